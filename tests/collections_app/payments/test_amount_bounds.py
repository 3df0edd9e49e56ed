"""Amounts are bounded where they enter, so that an invoice's cumulative amount paid always
fits its column: a too large amount is a 400 (or the page's error) that writes nothing, never a
500 from the database (PostgreSQL refuses a value beyond the column's digits)."""

import json
import time
from decimal import Decimal

import pytest
from django.db.models import DecimalField
from django_scopes import scopes_disabled

from collections_app.models import BankCredit, Invoice, Payment
from collections_app.payments.amounts import AMOUNT_MAX, payment_refusal
from collections_app.payments.services import PaymentError, invoice_record_payment
from collections_app.payments.typed_amounts import AmountError, typed_amount
from collections_app.signing import payment_signature
from tests.collections_app.factories import InvoiceFactory


def _column_max(field: DecimalField) -> Decimal:
    return Decimal(10 ** (field.max_digits - field.decimal_places)) - Decimal("0.01")


def test_the_bound_and_the_overpayment_allowance_fit_every_money_column():
    columns = [
        Invoice._meta.get_field("amount"),
        Invoice._meta.get_field("amount_paid"),
        Payment._meta.get_field("amount"),
        BankCredit._meta.get_field("amount"),
    ]
    # An invoice at the bound, paid up to its amount plus the allowance (the bound again).
    assert all(AMOUNT_MAX * 2 <= _column_max(field) for field in columns)


def _payments(invoice) -> int:
    with scopes_disabled():
        return Payment.objects.filter(invoice=invoice).count()


def test_an_api_payment_beyond_the_bound_is_refused_and_the_invoice_still_takes_payments(
    tenant_a, api_a
):
    invoice = InvoiceFactory(tenant=tenant_a, amount="1000.00")
    answer = api_a.post(
        "/api/v1/payments/",
        {"invoice": invoice.external_id, "amount": "999999999999.99"},
        content_type="application/json",
    )
    assert answer.status_code == 400, answer.content
    assert "9.999.999.999,99" in answer.content.decode() or "9999999999.99" in (
        answer.content.decode()
    )
    assert _payments(invoice) == 0
    ok = api_a.post(
        "/api/v1/payments/",
        {"invoice": invoice.external_id, "amount": "1000.00"},
        content_type="application/json",
    )
    assert ok.status_code == 201, ok.content
    with scopes_disabled():
        invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("1000.00") and invoice.status == "paid"


def test_payments_stop_where_the_amount_paid_would_pass_the_allowance(tenant_a):
    invoice = InvoiceFactory(tenant=tenant_a, amount=str(AMOUNT_MAX))
    with scopes_disabled():
        invoice_record_payment(tenant=tenant_a, invoice=invoice, amount=AMOUNT_MAX)
        invoice_record_payment(tenant=tenant_a, invoice=invoice, amount=AMOUNT_MAX)
        with pytest.raises(PaymentError, match="9.999.999.999,99"):
            invoice_record_payment(tenant=tenant_a, invoice=invoice, amount=Decimal("0.01"))
        invoice.refresh_from_db()
    assert invoice.amount_paid == AMOUNT_MAX * 2
    assert _payments(invoice) == 2


def test_the_refusal_names_nan_and_infinity():
    with scopes_disabled():
        invoice = Invoice(amount=Decimal("10.00"), amount_paid=Decimal("0"))
    for amount in (Decimal("NaN"), Decimal("Infinity"), Decimal("-1"), Decimal("1.001")):
        assert payment_refusal(invoice=invoice, amount=amount)
    assert payment_refusal(invoice=invoice, amount=Decimal("10.00")) is None


@pytest.fixture
def gateway(tenant_a):
    tenant_a.payment_webhook_secret = "whsec-test-123"
    tenant_a.save()
    return tenant_a


def test_a_signed_webhook_payment_of_ten_to_the_twentieth_is_a_400(client, gateway):
    invoice = InvoiceFactory(tenant=gateway, amount="150.00")
    body = json.dumps({"id": "evt_big", "invoice": invoice.external_id, "amount": 10**20}).encode()
    stamp = str(int(time.time()))
    answer = client.post(
        f"/webhooks/payments/{gateway.slug}/",
        body,
        content_type="application/json",
        HTTP_X_REGUA_TIMESTAMP=stamp,
        HTTP_X_REGUA_SIGNATURE=payment_signature(gateway.payment_webhook_secret, stamp, body),
    )
    assert answer.status_code == 400, answer.content
    assert "amount" in answer.json()["error"]
    assert _payments(invoice) == 0


@pytest.mark.parametrize("raw", ["NaN", "nan", "Infinity", "-inf", "sNaN", "99999999999,00"])
def test_a_typed_amount_that_is_no_sane_number_is_refused(raw):
    with pytest.raises(AmountError):
        typed_amount(raw)


def test_a_dashboard_payment_of_nan_is_the_pages_error(tenant_a, agent, login):
    invoice = InvoiceFactory(tenant=tenant_a, amount="150.00")
    client = login(agent)
    answer = client.post(f"/invoices/{invoice.pk}/payment/", {"amount": "NaN"}, follow=True)
    assert answer.status_code == 400  # the invoice page again, the error beside the amount
    assert _payments(invoice) == 0
    assert "1.234,50" in answer.content.decode()


def test_an_api_invoice_beyond_the_bound_is_refused(tenant_a, api_a):
    answer = api_a.post(
        "/api/v1/invoices/",
        {
            "external_id": "BIG-1",
            "customer": {"external_id": "C-big", "name": "Cliente"},
            "amount": "99999999999.00",
            "due_date": "2026-12-20",
            "issue_date": "2026-11-20",
        },
        content_type="application/json",
    )
    assert answer.status_code == 400, answer.content
    assert "amount" in answer.json()
    with scopes_disabled():
        assert not Invoice.objects.filter(external_id="BIG-1").exists()


def test_an_api_agreement_total_beyond_the_bound_is_refused(tenant_a, api_a):
    invoice = InvoiceFactory(tenant=tenant_a, amount="900.00")
    with scopes_disabled():
        customer_id = invoice.customer.external_id
    answer = api_a.post(
        "/api/v1/agreements/",
        {
            "customer": customer_id,
            "invoices": [invoice.external_id],
            "instalment_count": 2,
            "first_due_date": "2026-12-20",
            "total": "999999999999.99",
        },
        content_type="application/json",
    )
    assert answer.status_code == 400, answer.content
    assert "total" in answer.json()
    with scopes_disabled():
        invoice.refresh_from_db()
    assert invoice.status == "open"
