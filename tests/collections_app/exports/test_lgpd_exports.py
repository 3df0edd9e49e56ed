"""CSV exports, and the data subject's rights: export of a customer's data and its erasure,
which keeps the financial records."""

import csv
import io
import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django_scopes import scope

from collections_app.engine import ladder_evaluate
from collections_app.imports.spreadsheets import cell_safe
from collections_app.models import Customer, Interaction, Invoice, Payment
from collections_app.payments.services import invoice_record_payment
from messaging.models import InboundMessage, Message
from tenants.selectors import tenant_today
from tests.clock import on_the_suite_day
from tests.collections_app.factories import InvoiceFactory

pytestmark = [
    pytest.mark.django_db,
    on_the_suite_day,  # maria's invoice is due today and gets its D0 today: a business day
]


@pytest.fixture
def maria(tenant_a):
    today = tenant_today(tenant=tenant_a)
    invoice = InvoiceFactory(
        tenant=tenant_a,
        due_date=today,
        amount="320.00",
        customer={
            "external_id": "MARIA",
            "name": "Maria Souza",
            "document": "52998224725",
            "email": "maria@example.com",
            "phone": "+5511987654321",
        },
    )
    with scope(tenant=tenant_a):
        ladder_evaluate(tenant=tenant_a, today=today)
        invoice_record_payment(tenant=tenant_a, invoice=invoice, amount=Decimal("100.00"))
        InboundMessage.objects.create(
            tenant=tenant_a,
            channel="sms",
            sender="+5511987654321",
            body="Sou a Maria, pago amanhã",
            provider="twilio_sms",
            provider_message_id="SM-maria",
        )
    return invoice


def test_a_customers_data_is_exported_whole(tenant_a, owner, agent, login, maria):
    url = f"/customers/{maria.customer_id}/export.json"
    assert login(agent).get(url).status_code == 403
    response = login(owner).get(url)
    assert response["Content-Disposition"].startswith("attachment;")
    data = json.loads(response.content)
    assert data["customer"]["name"] == "Maria Souza"
    assert data["customer"]["document"] == "52998224725"
    assert [i["external_id"] for i in data["invoices"]] == [maria.external_id]
    assert data["payments"][0]["amount"] == "100.00"
    assert data["messages_sent"] and data["messages_received"][0]["body"].startswith("Sou a")
    assert any(item["kind"] == "payment" for item in data["timeline"])


def test_erasure_anonymises_the_person_and_keeps_the_money(tenant_a, owner, login, maria):
    client = login(owner)
    refused = client.post(f"/customers/{maria.customer_id}/erase/", {}, follow=True)
    with scope(tenant=tenant_a):
        assert Customer.objects.get(pk=maria.customer_id).name == "Maria Souza"
    assert refused.status_code == 400  # the page again, the error beside the confirmation
    assert 'aria-describedby="erase-confirm-errors"' in refused.content.decode()
    client.post(f"/customers/{maria.customer_id}/erase/", {"confirm": "yes"})
    with scope(tenant=tenant_a):
        customer = Customer.objects.get(pk=maria.customer_id)
        invoice = Invoice.objects.get(pk=maria.pk)
        payments = list(Payment.objects.values_list("amount", flat=True))
        messages = list(Message.objects.values_list("recipient", "body"))
        inbound = InboundMessage.objects.get()
        timeline = list(Interaction.objects.filter(customer=customer).values_list("summary"))
    assert customer.name == f"Titular removido #{customer.pk}"
    assert (customer.document, customer.email, customer.phone) == ("", "", "")
    assert invoice.amount == Decimal("320.00") and invoice.amount_paid == Decimal("100.00")
    assert payments == [Decimal("100.00")]
    assert all(recipient == "(apagado)" and body == "" for recipient, body in messages)
    assert inbound.sender == "(apagado)" and inbound.body == ""
    summaries = {s for (s,) in timeline}
    assert summaries == {"(apagado)", "Dados pessoais apagados a pedido do titular (LGPD)"}
    # Nothing in the export names her any more.
    exported = client.get(f"/customers/{maria.customer_id}/export.json").content.decode()
    assert "Maria" not in exported and "52998224725" not in exported
    assert "maria@example.com" not in exported and "987654321" not in exported


def read_csv(response, delimiter=";") -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")  # a spreadsheet reads it as UTF-8
    return list(csv.reader(io.StringIO(text[1:]), delimiter=delimiter))


def test_invoices_and_the_timeline_export_as_csv(tenant_a, agent, viewer, login, maria):
    today = tenant_today(tenant=tenant_a)
    InvoiceFactory(tenant=tenant_a, due_date=today - timedelta(days=40), amount="50.00")
    assert login(viewer).get("/exports/invoices.csv").status_code == 403
    client = login(agent)
    rows = read_csv(client.get("/exports/invoices.csv"))
    assert rows[0][:4] == ["Código externo", "Número", "Código do cliente", "Cliente"]
    assert len(rows) == 3
    by_id = {row[0]: row for row in rows[1:]}
    assert by_id[maria.external_id][3] == "Maria Souza"
    assert by_id[maria.external_id][5] == "100,00"
    only_paid = read_csv(client.get("/exports/invoices.csv?status=paid"))
    assert len(only_paid) == 1
    lines = read_csv(client.get(f"/exports/interactions.csv?from={today.isoformat()}"))
    assert lines[0] == [
        "Data e hora",
        "Código do cliente",
        "Fatura",
        "Tipo",
        "Canal",
        "Resumo",
        "Por",
    ]
    assert any(line[3] == "Pagamento" for line in lines[1:])


def test_the_exports_write_labels_dates_and_amounts_as_people_read_them(
    tenant_a, agent, login, maria
):
    """No internal code in a human-facing CSV: statuses, kinds, channels and payment sources
    are the pages' labels; dates dd/mm/aaaa; amounts with a decimal comma, ';' between cells.
    In English: the English labels, ',' and 1234.50."""
    today = tenant_today(tenant=tenant_a)
    late = InvoiceFactory(
        tenant=tenant_a, due_date=today - timedelta(days=40), amount="1234.50", number="NF-7"
    )
    with scope(tenant=tenant_a):
        invoice_record_payment(
            tenant=tenant_a, invoice=late, amount=Decimal("1234.50"), source="bank_file"
        )
        Interaction.objects.create(
            tenant=tenant_a,
            customer=late.customer,
            invoice=late,
            kind="message",
            channel="email",
            summary="email: lembrete de vencimento",
        )
    client = login(agent)
    rows = read_csv(client.get("/exports/invoices.csv"))
    header = rows[0]
    row = {r[0]: dict(zip(header, r, strict=True)) for r in rows[1:]}[late.external_id]
    assert row["Status"] == "Paga"
    assert row["Valor"] == "1234,50" and row["Valor pago"] == "1234,50"
    assert row["Vencimento"] == (today - timedelta(days=40)).strftime("%d/%m/%Y")
    assert row["Pago em"] == today.strftime("%d/%m/%Y")
    statuses = {dict(zip(header, r, strict=True))["Status"] for r in rows[1:]}
    assert statuses == {"Paga", "Em aberto"}

    lines = read_csv(client.get("/exports/interactions.csv"))
    kinds = {line[3] for line in lines[1:]}
    channels = {line[4] for line in lines[1:]} - {""}
    assert "Pagamento" in kinds and "payment" not in kinds and "message" not in kinds
    assert channels == {"E-mail"}, lines
    sent = next(line for line in lines[1:] if line[3] == "Mensagem")
    assert sent[5] == "E-mail: lembrete de vencimento"  # the summary's channel code, named
    paid = next(line for line in lines[1:] if line[2] == "NF-7" and line[3] == "Pagamento")
    assert paid[5] == "R$ 1.234,50 · Arquivo de retorno bancário"
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", paid[0])
    every_cell = {cell for line in lines[1:] + rows[1:] for cell in line}
    assert not every_cell & {"open", "paid", "overdue", "email", "bank_file", "payment"}

    english = login(agent)
    english.cookies["django_language"] = "en"
    rows = read_csv(english.get("/exports/invoices.csv"), delimiter=",")
    header = rows[0]
    assert header[:2] == ["External id", "Number"]
    row = {r[0]: dict(zip(header, r, strict=True)) for r in rows[1:]}[late.external_id]
    assert row["Status"] == "Paid" and row["Amount"] == "1234.50"
    assert row["Due date"] == (today - timedelta(days=40)).isoformat()


def test_exported_text_that_looks_like_a_formula_stays_text(tenant_a, agent, login):
    """A debtor's words (a reply, a name) must not run as a formula in the finance team's
    spreadsheet; amounts, negative ones included, stay numbers."""
    today = tenant_today(tenant=tenant_a)
    invoice = InvoiceFactory(
        tenant=tenant_a,
        due_date=today,
        amount="50.00",
        customer={"external_id": '=HYPERLINK("http://x")', "name": "@SUM(A1:A9)"},
    )
    with scope(tenant=tenant_a):
        Interaction.objects.create(
            tenant=tenant_a,
            customer=invoice.customer,
            invoice=invoice,
            kind="note",
            summary="-2+3+cmd|' /C calc'!A0",
        )
    client = login(agent)
    [row] = read_csv(client.get("/exports/invoices.csv"))[1:]
    assert row[2] == '\'=HYPERLINK("http://x")' and row[3] == "'@SUM(A1:A9)"
    assert row[4] == "50,00"
    notes = [
        line for line in read_csv(client.get("/exports/interactions.csv")) if line[3] == "Anotação"
    ]
    assert notes[0][5] == "'-2+3+cmd|' /C calc'!A0"


def test_cell_safe_leaves_numbers_alone():

    assert [cell_safe(v) for v in ("-12.50", "+5", "-3,2", 7, None, "abc")] == [
        "-12.50",
        "+5",
        "-3,2",
        7,
        None,
        "abc",
    ]
    assert cell_safe("=1+1") == "'=1+1" and cell_safe("\t=x") == "'\t=x"
