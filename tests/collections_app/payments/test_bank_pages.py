"""The bank page lists the credits it matched (which invoice, by what rule), opens each imported
file with what became of its credits, and suggests the invoices a credit in review most likely
pays (amount, date, payer), one click recording it."""

from datetime import timedelta
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django_scopes import scope

from collections_app.models import BankCredit, BankStatement, CreditStatus, Invoice
from collections_app.payments.charges import invoice_charges
from collections_app.payments.credit_suggestions import (
    PREFILTER,
    credit_suggestions,
    name_similarity,
)
from tests.collections_app.factories import InvoiceFactory
from tests.collections_app.payments.test_bank_reconciliation import DUE, invoices, ofx

DAY = DUE.strftime("%Y%m%d")


def credit(tenant, amount: str, description: str, on=DUE) -> BankCredit:
    statement = BankStatement.objects.create(tenant=tenant, kind="ofx", filename="x.ofx")
    return BankCredit.objects.create(
        tenant=tenant,
        statement=statement,
        key=f"k-{amount}-{description}",
        amount=Decimal(amount),
        credited_on=on,
        description=description,
        status=CreditStatus.UNMATCHED,
    )


def test_the_bank_page_lists_the_matched_credits_and_the_rule_that_matched_them(
    tenant_a, agent, login
):
    _a, b, c = invoices(tenant_a)
    client = login(agent)
    upload = SimpleUploadedFile(
        "extrato.ofx",
        ofx(
            ("F1", "99.90", DAY, f"PIX RECEBIDO {c.pix_txid}"),
            ("F2", "275.50", DAY, "TED CLIENTE"),
            ("F3", "42.00", DAY, "DEPOSITO"),
        ),
    )
    client.post("/bank/", {"file": upload})
    with scope(tenant=tenant_a):
        waiting = BankCredit.objects.get(status=CreditStatus.UNMATCHED)
        other = InvoiceFactory(tenant=tenant_a, due_date=DUE, amount="42.00")
    client.post(f"/bank/credits/{waiting.pk}/", {"invoice": other.number})
    html = client.get("/bank/").content.decode()
    matched = html[html.index('id="matched-title"') :]
    assert "Créditos conciliados" in matched and "(3)" in matched
    for invoice in (b, c, other):
        assert invoice.number in matched and invoice.customer.name in matched
    assert "Pix (txid)" in matched and "Valor e data" in matched and "Manual" in matched
    assert "16/11/2026" in matched and "R$ 275,50" in matched
    for code in ("amount_date", "pix_txid", ">agent<", ">ofx<"):
        assert code not in html


def test_an_imported_file_opens_with_what_became_of_each_credit(tenant_a, agent, viewer, login):
    invoices(tenant_a)
    client = login(agent)
    upload = SimpleUploadedFile(
        "extrato-dez.ofx",
        ofx(
            ("F2", "275.50", DAY, "TED CLIENTE"),
            ("F3", "42.00", DAY, "DEPOSITO"),
            ("F4", "7.00", DAY, "ESTORNO"),
        ),
    )
    client.post("/bank/", {"file": upload})
    with scope(tenant=tenant_a):
        statement = BankStatement.objects.get()
        refund = BankCredit.objects.get(amount=Decimal("7.00"))
    client.post(f"/bank/credits/{refund.pk}/", {"ignore": "1"})
    bank_page = client.get("/bank/").content.decode()
    assert f'href="/bank/files/{statement.pk}/"' in bank_page
    answer = client.get(f"/bank/files/{statement.pk}/")
    assert answer.status_code == 200
    page = answer.content.decode()
    assert "extrato-dez.ofx" in page and "Créditos deste arquivo" in page
    assert "Conciliado" in page and "Valor e data" in page
    assert "Em revisão" in page and "Nenhuma fatura correspondeu." in page
    assert "Não é pagamento" in page and "ESTORNO" in page
    assert login(viewer).get(f"/bank/files/{statement.pk}/").status_code == 403


def test_a_credit_in_review_suggests_invoices_by_amount_date_and_payer(tenant_a):
    with scope(tenant=tenant_a):
        far = InvoiceFactory(tenant=tenant_a, due_date=DUE - timedelta(days=40), amount="500.00")
        near = InvoiceFactory(tenant=tenant_a, due_date=DUE + timedelta(days=1), amount="500.00")
        named = InvoiceFactory(
            tenant=tenant_a,
            due_date=DUE,
            amount="490.00",
            customer={"external_id": "JC", "name": "José da Conceição Ltda"},
        )
        InvoiceFactory(tenant=tenant_a, due_date=DUE, amount="900.00")  # nowhere near
        paid_off = InvoiceFactory(tenant=tenant_a, due_date=DUE, amount="500.00")
        Invoice.objects.filter(pk=paid_off.pk).update(status="cancelled")
        item = credit(tenant_a, "500.00", "PIX RECEBIDO JOSE DA CONCEICAO LTDA")
        with translation.override("en"):
            found = credit_suggestions(tenant=tenant_a, credit=item, today=DUE)
    invoices_found = [s.invoice for s in found]
    assert invoices_found[0] == near  # exact amount, due the next day
    assert set(invoices_found) == {near, named, far}
    reasons = {s.invoice.pk: s.reasons for s in found}
    assert "Exact amount due" in reasons[near.pk]
    assert "Due 1 day after it was paid" in reasons[near.pk]
    assert any(r.startswith("Payer's name 100") for r in reasons[named.pk])
    assert any(r.startswith("Amount close") for r in reasons[named.pk])
    assert name_similarity("José da Conceição", "pix jose da conceicao 123") == 1.0


def test_a_late_payment_with_fine_and_interest_is_suggested_for_its_invoice(tenant_a):
    tenant_a.late_fine_percent = Decimal("2")
    tenant_a.monthly_interest_percent = Decimal("1")
    tenant_a.save()
    with scope(tenant=tenant_a):
        late = InvoiceFactory(tenant=tenant_a, due_date=DUE - timedelta(days=10), amount="300.00")
        late = Invoice.objects.select_related("customer").get(pk=late.pk)
        total = invoice_charges(tenant=tenant_a, invoice=late, today=DUE).total
        assert total > Decimal("300.00")
        item = credit(tenant_a, str(total), "TED")
        with translation.override("en"):
            [first] = credit_suggestions(tenant=tenant_a, credit=item, today=DUE)
    assert first.invoice == late
    assert "Amount due with fine and interest" in first.reasons


def test_the_document_in_the_description_finds_the_customer_whatever_the_amount(tenant_a):
    with scope(tenant=tenant_a):
        theirs = InvoiceFactory(
            tenant=tenant_a,
            due_date=DUE,
            amount="1234.00",
            customer={"external_id": "D", "name": "Ana", "document": "52998224725"},
        )
        item = credit(tenant_a, "100.00", "PIX 529.982.247-25 ANA")
        with translation.override("en"):
            [first] = credit_suggestions(tenant=tenant_a, credit=item, today=DUE)
    assert first.invoice == theirs
    assert "The customer's CPF/CNPJ is in the description" in first.reasons


def test_suggestions_read_a_few_candidates_in_sql_whatever_the_tenants_size(tenant_a):
    with scope(tenant=tenant_a):
        for n in range(PREFILTER + 10):
            InvoiceFactory(tenant=tenant_a, due_date=DUE, amount=str(Decimal("100.00") + n % 5))
        for n in range(20):
            InvoiceFactory(tenant=tenant_a, due_date=DUE, amount=str(5000 + n))
        item = credit(tenant_a, "100.00", "TED")
        with CaptureQueriesContext(connection) as queries:
            found = credit_suggestions(tenant=tenant_a, credit=item, today=DUE)
    assert len(queries) == 1
    assert len(found) == 5 and all(s.invoice.due == Decimal("100.00") for s in found)


def test_choosing_a_suggestion_records_the_payment_like_the_typed_number(
    tenant_a, tenant_b, agent, login
):
    with scope(tenant=tenant_a):
        invoice = InvoiceFactory(tenant=tenant_a, due_date=DUE, amount="80.00")
        item = credit(tenant_a, "80.00", "TED")
    other = InvoiceFactory(tenant=tenant_b, due_date=DUE, amount="80.00")
    client = login(agent)
    html = client.get("/bank/").content.decode()
    suggestions = html[html.index(f'data-suggestions="{item.pk}"') :]
    assert f'name="invoice_id" value="{invoice.pk}"' in suggestions
    assert f"Registrar como pagamento de {invoice.number}" in suggestions
    assert "Valor exato" in suggestions and "Vence no dia do pagamento" in suggestions
    assert f'value="{other.pk}"' not in suggestions
    # Another tenant's invoice id is no invoice at all.
    refused = client.post(f"/bank/credits/{item.pk}/", {"invoice_id": other.pk}, follow=True)
    assert "Nenhuma fatura com esse número." in refused.content.decode()
    client.post(f"/bank/credits/{item.pk}/", {"invoice_id": invoice.pk})
    with scope(tenant=tenant_a):
        item.refresh_from_db()
        invoice.refresh_from_db()
    assert item.status == CreditStatus.MATCHED and item.matched_by == "agent"
    assert item.invoice_id == invoice.pk and item.resolved_by_id == agent.pk
    assert invoice.status == "paid"
