"""CSV exports, and the data subject's rights: export of a customer's data and its erasure,
which keeps the financial records."""

import csv
import io
import json
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
    assert refused.status_code == 200
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


def test_invoices_and_the_timeline_export_as_csv(tenant_a, agent, viewer, login, maria):
    today = tenant_today(tenant=tenant_a)
    InvoiceFactory(tenant=tenant_a, due_date=today - timedelta(days=40), amount="50.00")
    assert login(viewer).get("/exports/invoices.csv").status_code == 403
    client = login(agent)
    response = client.get("/exports/invoices.csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["external_id", "number", "customer_external_id"]
    assert len(rows) == 3
    by_id = {row[0]: row for row in rows[1:]}
    assert by_id[maria.external_id][3] == "Maria Souza"
    assert by_id[maria.external_id][5] == "100.00"
    only_paid = client.get("/exports/invoices.csv?status=paid")
    assert len(list(csv.reader(io.StringIO(b"".join(only_paid.streaming_content).decode())))) == 1
    timeline = client.get(f"/exports/interactions.csv?from={today.isoformat()}")
    lines = list(csv.reader(io.StringIO(b"".join(timeline.streaming_content).decode())))
    assert lines[0] == ["occurred_at", "customer", "invoice", "kind", "channel", "summary", "actor"]
    assert any(line[3] == "payment" for line in lines[1:])


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
    invoices = b"".join(client.get("/exports/invoices.csv").streaming_content).decode()
    [row] = list(csv.reader(io.StringIO(invoices)))[1:]
    assert row[2] == '\'=HYPERLINK("http://x")' and row[3] == "'@SUM(A1:A9)"
    assert row[4] == "50.00"
    timeline = b"".join(client.get("/exports/interactions.csv").streaming_content).decode()
    notes = [line for line in csv.reader(io.StringIO(timeline)) if line[3] == "note"]
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
