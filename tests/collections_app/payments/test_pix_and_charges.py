"""The Pix BR Code and the charges a debtor sees: fine, interest pro rata die, the consumer
caps and the early-payment discount."""

from datetime import date
from decimal import Decimal

import pytest
from django_scopes import scope

from collections_app.payments.charges import invoice_charges
from collections_app.payments.pix import BRCode, PixError, brcode_parse, crc16, pix_key_kind
from collections_app.payments.services import invoice_record_payment
from tests.collections_app.factories import InvoiceFactory

# The Banco Central's own example (Manual de Padrões para Iniciação do Pix, BR Code estático).
BCB_EXAMPLE = (
    "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-426655440000520400005303986"
    "5802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D"
)


def test_the_brcode_matches_the_central_banks_example():
    code = BRCode(
        key="123e4567-e12b-12d1-a456-426655440000",
        merchant_name="Fulano de Tal",
        merchant_city="BRASILIA",
    )
    assert code.payload() == BCB_EXAMPLE
    assert crc16(BCB_EXAMPLE[:-4]) == "1D3D"


def test_an_invoice_brcode_carries_amount_txid_and_plain_names():
    payload = BRCode(
        key="12345678000195",
        merchant_name="Escola Aurora Ensino Fundamental Ltda",
        merchant_city="São Paulo",
        amount=Decimal("1234.5"),
        txid="RGABC123",
    ).payload()
    fields = brcode_parse(payload)
    assert fields["00"] == "01"
    assert fields["26.00"] == "br.gov.bcb.pix" and fields["26.01"] == "12345678000195"
    assert fields["52"] == "0000" and fields["53"] == "986" and fields["58"] == "BR"
    assert fields["54"] == "1234.50"
    assert fields["59"] == "Escola Aurora Ensino Funda"[:25]
    assert fields["60"] == "Sao Paulo"
    assert fields["62.05"] == "RGABC123"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"key": "not a key"}, "Pix key"),
        ({"txid": "has-dash"}, "txid"),
        ({"amount": Decimal("0")}, "greater than zero"),
        ({"merchant_city": ""}, "city"),
    ],
)
def test_a_brcode_that_cannot_work_is_refused(change, error):
    fields = {
        "key": "maria@example.com",
        "merchant_name": "Maria",
        "merchant_city": "Recife",
        "amount": Decimal("10"),
    }
    with pytest.raises(PixError, match=error):
        BRCode(**{**fields, **change}).payload()


def test_a_tampered_code_fails_its_crc():
    with pytest.raises(PixError, match="CRC"):
        brcode_parse(BCB_EXAMPLE.replace("BRASILIA", "BRASILIO"))


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("52998224725", "cpf"),
        ("12345678000195", "cnpj"),
        ("12ABC34501DE35", "cnpj"),
        ("+5511987654321", "phone"),
        ("financeiro@escola.com.br", "email"),
        ("123e4567-e12b-12d1-a456-426655440000", "evp"),
        ("11 98765-4321", None),
    ],
)
def test_pix_key_kinds(key, kind):
    assert pix_key_kind(key) == kind


# --- Charges -------------------------------------------------------------------------------

DUE = date(2026, 12, 1)  # a Tuesday: a business day


def invoice_for(tenant, document: str, amount="1000.00"):
    return InvoiceFactory(
        tenant=tenant,
        due_date=DUE,
        amount=amount,
        customer={"external_id": f"C-{document}", "name": "Maria", "document": document},
    )


@pytest.mark.django_db
def test_an_overdue_business_debt_pays_the_tenants_fine_and_interest(tenant_a):
    tenant_a.late_fine_percent = Decimal("5")
    tenant_a.monthly_interest_percent = Decimal("3")
    invoice = invoice_for(tenant_a, "12345678000195")
    charges = invoice_charges(tenant=tenant_a, invoice=invoice, today=date(2026, 12, 11))
    assert charges.days_late == 10
    assert charges.fine == Decimal("50.00")  # 5 % once
    assert charges.interest == Decimal("10.00")  # 3 % a month / 30 × 10 days
    assert charges.total == Decimal("1060.00") and not charges.capped


@pytest.mark.django_db
def test_a_consumer_debt_is_capped_at_two_and_one_percent(tenant_a):
    tenant_a.late_fine_percent = Decimal("5")
    tenant_a.monthly_interest_percent = Decimal("3")
    invoice = invoice_for(tenant_a, "52998224725")
    charges = invoice_charges(tenant=tenant_a, invoice=invoice, today=date(2026, 12, 31))
    assert charges.capped
    assert charges.fine_percent == 2 and charges.monthly_interest_percent == 1
    assert charges.fine == Decimal("20.00")
    assert charges.interest == Decimal("10.00")  # 1 % a month, 30 days
    assert charges.daily_interest_percent == Decimal("0.0333")


@pytest.mark.django_db
def test_charges_count_on_what_is_still_due(tenant_a):

    invoice = invoice_for(tenant_a, "52998224725")
    with scope(tenant=tenant_a):
        invoice_record_payment(tenant=tenant_a, invoice=invoice, amount=Decimal("400"))
        invoice.refresh_from_db()
    charges = invoice_charges(tenant=tenant_a, invoice=invoice, today=date(2026, 12, 16))
    assert charges.principal == Decimal("600.00")
    assert charges.fine == Decimal("12.00") and charges.interest == Decimal("3.00")


@pytest.mark.django_db
def test_the_early_payment_discount_holds_until_its_day(tenant_a):
    tenant_a.early_discount_percent = Decimal("5")
    tenant_a.early_discount_days = 5
    invoice = invoice_for(tenant_a, "12345678000195")
    early = invoice_charges(tenant=tenant_a, invoice=invoice, today=date(2026, 11, 26))
    assert early.discount == Decimal("50.00") and early.discount_until == date(2026, 11, 26)
    assert early.total == Decimal("950.00") and early.fine == 0
    late = invoice_charges(tenant=tenant_a, invoice=invoice, today=date(2026, 11, 27))
    assert late.discount == 0 and late.total == Decimal("1000.00")


@pytest.mark.django_db
def test_nothing_is_charged_on_the_due_date(tenant_a):
    invoice = invoice_for(tenant_a, "52998224725")
    charges = invoice_charges(tenant=tenant_a, invoice=invoice, today=DUE)
    assert (charges.fine, charges.interest, charges.days_late) == (0, 0, 0)
    assert charges.total == Decimal("1000.00")
