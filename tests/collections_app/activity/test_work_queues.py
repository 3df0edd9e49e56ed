"""The finance team's daily work: actions on an invoice, the task and reply queues, and the
roles that allow them."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django_scopes import scope

from collections_app.models import (
    Customer,
    FollowUpTask,
    Interaction,
    Invoice,
    Ladder,
    PaymentPromise,
    Segment,
    TaskStatus,
)
from messaging.models import InboundMessage, Message, MessagePurpose, Template
from tenants.selectors import tenant_today
from tests.collections_app.factories import InvoiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice(tenant_a):
    today = tenant_today(tenant=tenant_a)
    return InvoiceFactory(
        tenant=tenant_a,
        due_date=today - timedelta(days=5),
        amount="480.00",
        customer={
            "external_id": "JOAO",
            "name": "João Lima",
            "email": "joao@example.com",
            "phone": "+5511912345678",
        },
    )


def act(client, invoice, action, **data):
    return client.post(f"/invoices/{invoice.pk}/{action}/", data, follow=True)


def kinds(tenant, invoice):
    with scope(tenant=tenant):
        return list(
            Interaction.objects.filter(invoice=invoice)
            .order_by("id")
            .values_list("kind", "summary", "actor_id")
        )


def test_an_agent_logs_a_call_and_a_note(tenant_a, agent, login, invoice):
    client = login(agent)
    act(client, invoice, "call", outcome="no_answer", note="tentar à tarde")
    act(client, invoice, "note", text="Cliente pediu boleto atualizado")
    assert ("call", "Não atendeu: tentar à tarde", agent.pk) in kinds(tenant_a, invoice)
    assert ("note", "Cliente pediu boleto atualizado", agent.pk) in kinds(tenant_a, invoice)
    refused = act(client, invoice, "call", outcome="made-up").content.decode()
    assert "Escolha como foi a ligação" in refused


def test_an_agent_records_a_promise_and_pauses_then_resumes(tenant_a, agent, login, invoice):
    client = login(agent)
    today = tenant_today(tenant=tenant_a)
    act(client, invoice, "promise", date=(today + timedelta(days=4)).isoformat())
    with scope(tenant=tenant_a):
        promise = PaymentPromise.objects.get(invoice=invoice)
    assert promise.created_by_id == agent.pk and promise.source == "agent"
    act(client, invoice, "pause", until=(today + timedelta(days=10)).isoformat())
    with scope(tenant=tenant_a):
        invoice.refresh_from_db()
    assert invoice.paused_until == today + timedelta(days=10)
    act(client, invoice, "resume")
    with scope(tenant=tenant_a):
        invoice.refresh_from_db()
    assert invoice.paused_until is None
    summaries = [summary for _kind, summary, _actor in kinds(tenant_a, invoice)]
    assert f"Lembretes pausados até {today + timedelta(days=10):%d/%m/%Y}" in summaries
    assert "Lembretes retomados" in summaries
    past = act(client, invoice, "pause", until=(today - timedelta(days=1)).isoformat())
    assert "A pausa deve terminar hoje ou depois" in past.content.decode()


def test_an_agent_sends_a_message_from_a_template_with_a_preview(
    tenant_a, agent, login, invoice, outbox, django_capture_on_commit_callbacks
):
    client = login(agent)
    with scope(tenant=tenant_a):
        template = Template.objects.filter(channel="email", locale=tenant_a.locale).first()
    preview = client.get(f"/invoices/{invoice.pk}/message-preview/?template={template.pk}")
    assert "João Lima" in preview.content.decode() and "R$ 480,00" in preview.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        act(client, invoice, "message", template=template.pk)
    with scope(tenant=tenant_a):
        message = Message.objects.get(purpose=MessagePurpose.MANUAL)
    assert message.recipient == "joao@example.com" and message.status == "sent"
    assert "R$ 480,00" in message.body  # rendered at send time, with the invoice's amount


def test_a_message_to_an_opted_out_channel_is_refused(tenant_a, agent, login, invoice):
    with scope(tenant=tenant_a):
        customer = invoice.customer
        customer.opted_out_channels = ["email"]
        customer.save()
        template = Template.objects.filter(channel="email", locale=tenant_a.locale).first()
    answer = act(login(agent), invoice, "message", template=template.pk).content.decode()
    assert "não pode ser contatado" in answer
    with scope(tenant=tenant_a):
        assert not Message.objects.filter(purpose=MessagePurpose.MANUAL).exists()


def test_a_viewer_reads_but_cannot_act(tenant_a, viewer, login, invoice):
    client = login(viewer)
    page = client.get(f"/invoices/{invoice.pk}/").content.decode()
    assert "Registrar uma ligação" not in page
    for action in ("call", "note", "promise", "pause", "message", "payment", "agreement"):
        assert client.post(f"/invoices/{invoice.pk}/{action}/", {}).status_code == 403
    assert client.get(f"/invoices/{invoice.pk}/message-preview/").status_code == 403


def test_the_invoice_page_explains_each_step(tenant_a, agent, login, invoice):
    page = login(agent).get(f"/invoices/{invoice.pk}/").content.decode()
    assert 'data-step-state="' in page
    assert "Planejada" in page or "Não enviada" in page


def test_the_task_queue_shows_mine_first_and_closes_a_task(tenant_a, agent, owner, login, invoice):
    today = tenant_today(tenant=tenant_a)
    with scope(tenant=tenant_a):
        mine = FollowUpTask.objects.create(
            tenant=tenant_a,
            customer=invoice.customer,
            invoice=invoice,
            title="Ligar para João",
            due_on=today,
            assignee=agent,
        )
        FollowUpTask.objects.create(
            tenant=tenant_a,
            customer=invoice.customer,
            title="Tarefa da dona",
            due_on=today,
            assignee=owner,
        )
    client = login(agent)
    page = client.get("/tasks/").content.decode()
    assert "Ligar para João" in page and "Tarefa da dona" not in page
    everyone = client.get("/tasks/?who=all", HTTP_HX_REQUEST="true").content.decode()
    assert "Tarefa da dona" in everyone and "<html" not in everyone  # an HTMX partial
    done = client.post(f"/tasks/{mine.pk}/done/", HTTP_HX_REQUEST="true")
    assert done.status_code == 200 and done.content == b""
    with scope(tenant=tenant_a):
        mine.refresh_from_db()
    assert mine.status == TaskStatus.DONE and mine.completed_at
    assert "Tarefa concluída: Ligar para João" in [s for _k, s, _a in kinds(tenant_a, invoice)]


def test_the_reply_queue_lists_replies_and_unknown_senders(tenant_a, agent, login, invoice):
    today = tenant_today(tenant=tenant_a)
    with scope(tenant=tenant_a):
        FollowUpTask.objects.create(
            tenant=tenant_a,
            customer=invoice.customer,
            title="Responder mensagem do cliente",
            origin="reply",
            notes="Posso pagar dia 10?",
            due_on=today,
        )
        for sender, body in (("+5511912345678", "oi"), ("+5521999990000", "quem é?")):
            InboundMessage.objects.create(
                tenant=tenant_a,
                channel="sms",
                sender=sender,
                body=body,
                provider="twilio_sms",
                provider_message_id=f"SM{sender}",
            )
    page = login(agent).get("/replies/").content.decode()
    assert "Posso pagar dia 10?" in page
    assert "+5521999990000" in page and "quem é?" in page
    assert "+5511912345678" not in page  # that one is João's number: not unknown


def test_another_tenants_invoice_and_task_are_404(tenant_a, tenant_b, outsider, login, invoice):
    client = login(outsider)
    assert client.get(f"/invoices/{invoice.pk}/").status_code == 404
    assert client.post(f"/invoices/{invoice.pk}/note/", {"text": "x"}).status_code == 404
    with scope(tenant=tenant_a):
        task = FollowUpTask.objects.create(
            tenant=tenant_a,
            customer=invoice.customer,
            title="t",
            due_on=tenant_today(tenant=tenant_a),
        )
    assert client.post(f"/tasks/{task.pk}/done/").status_code == 404
    with scope(tenant=tenant_a):
        assert Invoice.objects.get(pk=invoice.pk).amount == Decimal("480.00")


def test_the_overview_draws_its_charts_and_filters_by_segment(tenant_a, viewer, login, invoice):

    with scope(tenant=tenant_a):
        ladder = Ladder.objects.get(is_default=True)
        vip = Segment.objects.create(
            tenant=tenant_a, name="VIP", priority=1, rule={}, ladder=ladder
        )
    client = login(viewer)
    page = client.get("/").content.decode()
    assert 'data-chart="aging"' in page and 'data-chart="recovery"' in page
    assert "1–15: R$ 480,00" in page  # the aging chart's accessible title carries the figures
    filtered = client.get(f"/?segment={vip.pk}")
    assert filtered.context["segment"] == vip
    # Nobody is in the VIP segment: its overdue amount is zero.
    assert filtered.context["metrics"]["overdue_amount"] == "0.00"
    assert client.get("/").context["metrics"]["overdue_amount"] == "480.00"


def test_an_agent_works_the_customer_page(tenant_a, agent, viewer, login, invoice):
    customer_id = invoice.customer_id
    client = login(agent)
    today = tenant_today(tenant=tenant_a)
    client.post(f"/customers/{customer_id}/call/", {"outcome": "reached", "note": "ok"})
    client.post(f"/customers/{customer_id}/note/", {"text": "Prefere WhatsApp"})
    until = today + timedelta(days=7)
    client.post(f"/customers/{customer_id}/pause/", {"until": until.isoformat()})
    with scope(tenant=tenant_a):
        customer = Customer.objects.get(pk=customer_id)
        summaries = list(
            Interaction.objects.filter(customer_id=customer_id, invoice__isnull=True)
            .order_by("id")
            .values_list("kind", "summary")
        )
    assert customer.paused_until == until
    assert ("call", "Falou com o cliente: ok") in summaries
    assert ("note", "Prefere WhatsApp") in summaries
    assert ("note", f"Lembretes ao cliente pausados até {until:%d/%m/%Y}") in summaries
    page = client.get(f"/customers/{customer_id}/").content.decode()
    assert f"Pausado até {until:%d/%m/%Y}" in page
    assert login(viewer).post(f"/customers/{customer_id}/note/", {"text": "x"}).status_code == 403
