"""Disputes on the invoice page: opened with a reason and cleared by an agent, through the same
service as the API (`collections_app/invoices/disputes.py`), with a timeline entry each time;
queued reminders cancelled by the shared rule; a badge on every list that shows the invoice
and a "disputed" filter in the queue."""

import json
from datetime import date, timedelta

import pytest
from django_scopes import scope, scopes_disabled

from collections_app.engine import ladder_evaluate
from collections_app.models import Interaction, Invoice
from messaging.models import Message, MessageStatus
from tests.collections_app.factories import InvoiceFactory

pytestmark = pytest.mark.django_db
DAY = date(2026, 12, 2)  # a Wednesday


def dispute_entries(invoice: Invoice) -> list[dict]:
    """The invoice's dispute entries, oldest first, without who wrote them."""
    with scopes_disabled():
        return list(
            Interaction.objects.filter(invoice_id=invoice.pk, kind="dispute")
            .order_by("id")
            .values("tenant_id", "customer_id", "kind", "summary", "data")
        )


def fresh(invoice: Invoice) -> Invoice:
    with scopes_disabled():
        return Invoice.objects.get(pk=invoice.pk)


def overdue(tenant, days: int = 10, **fields) -> Invoice:
    today = DAY
    return InvoiceFactory(tenant=tenant, due_date=today - timedelta(days=days), **fields)


def test_an_agent_opens_and_clears_a_dispute_on_the_invoice_page(tenant_a, agent, login):
    invoice = overdue(tenant_a)
    client = login(agent)
    response = client.post(
        f"/invoices/{invoice.pk}/dispute/", {"reason": "  Cliente diz que não contratou  "}
    )
    assert response.status_code == 302
    invoice = fresh(invoice)
    assert invoice.disputed and invoice.dispute_reason == "Cliente diz que não contratou"

    page = client.get(f"/invoices/{invoice.pk}/").content.decode()
    assert '<span class="badge disputed">Contestada</span>' in page
    assert "Cliente diz que não contratou" in page
    assert "Nenhum lembrete é enviado enquanto a contestação estiver aberta." in page
    assert f'action="/invoices/{invoice.pk}/undispute/"' in page
    assert f'action="/invoices/{invoice.pk}/dispute/"' not in page  # already disputed

    assert client.post(f"/invoices/{invoice.pk}/undispute/").status_code == 302
    invoice = fresh(invoice)
    assert not invoice.disputed and invoice.dispute_reason == ""
    assert [e["summary"] for e in dispute_entries(invoice)] == [
        "Contestação aberta: Cliente diz que não contratou",
        "Contestação encerrada",
    ]
    with scopes_disabled():
        actors = set(Interaction.objects.filter(kind="dispute").values_list("actor", flat=True))
    assert actors == {agent.pk}
    page = client.get(f"/invoices/{invoice.pk}/").content.decode()
    assert 'class="badge disputed"' not in page


def test_a_dispute_needs_a_reason(tenant_a, agent, login):
    invoice = overdue(tenant_a)
    client = login(agent)
    response = client.post(f"/invoices/{invoice.pk}/dispute/", {"reason": "   "}, follow=True)
    assert not fresh(invoice).disputed and dispute_entries(invoice) == []
    assert "Diga por que o cliente contesta a fatura." in response.content.decode()


def test_a_second_opening_writes_no_second_entry(tenant_a, agent, login):
    invoice = overdue(tenant_a)
    client = login(agent)
    client.post(f"/invoices/{invoice.pk}/dispute/", {"reason": "Valor errado"})
    client.post(f"/invoices/{invoice.pk}/dispute/", {"reason": "Outro motivo"})
    assert fresh(invoice).dispute_reason == "Valor errado"
    assert len(dispute_entries(invoice)) == 1


def test_a_viewer_cannot_dispute_and_sees_no_form(tenant_a, viewer, login):
    invoice = overdue(tenant_a)
    client = login(viewer)
    assert client.post(f"/invoices/{invoice.pk}/dispute/", {"reason": "x"}).status_code == 403
    assert not fresh(invoice).disputed
    assert "/dispute/" not in client.get(f"/invoices/{invoice.pk}/").content.decode()


def test_another_tenants_invoice_is_a_404(tenant_a, tenant_b, outsider, login):
    invoice = overdue(tenant_a)
    client = login(outsider)
    assert client.post(f"/invoices/{invoice.pk}/dispute/", {"reason": "x"}).status_code == 404
    with scopes_disabled():
        Invoice.objects.filter(pk=invoice.pk).update(disputed=True)
    assert client.post(f"/invoices/{invoice.pk}/undispute/").status_code == 404
    assert fresh(invoice).disputed and dispute_entries(invoice) == []


def test_the_page_and_the_api_write_the_same_timeline_entry(tenant_a, agent, login, api_a):
    by_page, by_api = overdue(tenant_a), overdue(tenant_a)
    login(agent).post(f"/invoices/{by_page.pk}/dispute/", {"reason": "Serviço não prestado"})
    response = api_a.post(
        f"/api/v1/invoices/{by_api.pk}/dispute/",
        json.dumps({"reason": "Serviço não prestado"}),
        content_type="application/json",
    )
    assert response.status_code == 200
    [page_entry] = dispute_entries(by_page)
    [api_entry] = dispute_entries(by_api)
    assert (
        page_entry["summary"] == api_entry["summary"] == "Contestação aberta: Serviço não prestado"
    )
    assert (
        page_entry["data"]
        == api_entry["data"]
        == {
            "dispute": "opened",
            "reason": "Serviço não prestado",
        }
    )
    login(agent).post(f"/invoices/{by_page.pk}/undispute/")
    assert api_a.delete(f"/api/v1/invoices/{by_api.pk}/dispute/").status_code == 200
    assert dispute_entries(by_page)[1]["summary"] == dispute_entries(by_api)[1]["summary"]
    assert (
        dispute_entries(by_page)[1]["data"]
        == dispute_entries(by_api)[1]["data"]
        == {
            "dispute": "closed",
            "reason": "Serviço não prestado",
        }
    )


def test_a_dispute_cancels_the_queued_reminders_by_the_shared_rule(tenant_a, agent, login):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=DAY)
    with scope(tenant=tenant_a):
        ladder_evaluate(tenant=tenant_a, today=DAY)  # the D0 reminder, queued
        assert Message.objects.get().status == MessageStatus.QUEUED
    login(agent).post(f"/invoices/{invoice.pk}/dispute/", {"reason": "Cobrança em duplicidade"})
    with scope(tenant=tenant_a):
        message = Message.objects.get()
    assert (message.status, message.error) == (MessageStatus.CANCELLED, "disputed")


def test_disputed_invoices_carry_a_badge_in_the_queue_and_on_the_customer_page(
    tenant_a, agent, login
):
    disputed, plain = overdue(tenant_a), overdue(tenant_a, days=12)
    client = login(agent)
    client.post(f"/invoices/{disputed.pk}/dispute/", {"reason": "Valor errado"})
    rows = client.get("/invoices/?status=open").content.decode()
    assert rows.count('class="badge disputed"') == 1
    customer_page = client.get(f"/customers/{disputed.customer_id}/").content.decode()
    assert '<span class="badge disputed">Contestada</span>' in customer_page
    other_page = client.get(f"/customers/{plain.customer_id}/").content.decode()
    assert 'class="badge disputed"' not in other_page


def test_the_queue_filters_disputed_invoices(tenant_a, agent, login):
    disputed, plain = overdue(tenant_a), overdue(tenant_a)
    client = login(agent)
    client.post(f"/invoices/{disputed.pk}/dispute/", {"reason": "Valor errado"})
    page = client.get("/invoices/?status=disputed").content.decode()
    assert f'href="/invoices/{disputed.pk}/"' in page
    assert f'href="/invoices/{plain.pk}/"' not in page
    assert '<option value="disputed" selected>Contestadas</option>' in page
    rows = client.get("/invoices/?status=disputed", HTTP_HX_REQUEST="true").content.decode()
    assert f'href="/invoices/{disputed.pk}/"' in rows and "<html" not in rows
