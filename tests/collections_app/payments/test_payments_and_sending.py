"""Sending a message at most once, payments stopping the ladder, and the thank-you rule."""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from collections_app.engine import ladder_evaluate
from collections_app.models import Interaction, Invoice, Payment
from collections_app.payments.services import invoice_record_payment
from messaging import hooks
from messaging.models import Message, MessagePurpose, MessageStatus
from messaging.providers.console import ConsoleProvider
from messaging.sending import message_send
from messaging.tasks import messages_send_due, send_messages
from tenants.selectors import tenant_today
from tests.collections_app.factories import InvoiceFactory

pytestmark = pytest.mark.django_db


# A business day: the ladder is evaluated as of this date whatever the real clock says.
DAY = date(2026, 12, 2)


def today_of(tenant):
    return DAY


def queue_reminder(tenant, **invoice_kwargs):
    """An invoice due today, evaluated: one queued D0 message."""
    invoice = InvoiceFactory(tenant=tenant, due_date=today_of(tenant), **invoice_kwargs)
    with scope(tenant=tenant):
        ladder_evaluate(tenant=tenant, today=today_of(tenant))
        [message] = Message.objects.all()
    return invoice, message


@pytest.fixture
def provider_calls():
    with mock.patch.object(
        ConsoleProvider, "send", autospec=True, side_effect=ConsoleProvider.send
    ) as spy:
        yield spy


def test_message_renders_at_send_time_and_is_sent_once(tenant_a, provider_calls):
    invoice, message = queue_reminder(tenant_a, amount="1234.50")
    with scope(tenant=tenant_a):
        assert message_send(tenant=tenant_a, message_id=message.pk).status == "sent"
        assert message_send(tenant=tenant_a, message_id=message.pk).status == "sent"
        message.refresh_from_db()
    assert provider_calls.call_count == 1
    assert message.status == MessageStatus.SENT
    assert "R$ 1.234,50" in message.body
    assert today_of(tenant_a).strftime("%d/%m/%Y") in message.body
    assert f"/p/{invoice.payment_token}?m=" in message.body
    assert message.provider_message_id == f"console-{message.ref}"


def test_two_workers_racing_call_the_provider_once(tenant_a, provider_calls):
    _invoice, message = queue_reminder(tenant_a)
    real_guard = hooks.message_cancel_reason
    first = []

    def other_worker_claims_meanwhile(msg):
        # This worker has read the message as queued; another one claims and sends it now.
        with mock.patch("messaging.hooks.message_cancel_reason", side_effect=real_guard):
            first.append(message_send(tenant=tenant_a, message_id=message.pk).status)
        return real_guard(msg)

    with scope(tenant=tenant_a):
        with mock.patch(
            "messaging.hooks.message_cancel_reason", side_effect=other_worker_claims_meanwhile
        ):
            outcome = message_send(tenant=tenant_a, message_id=message.pk)
    assert first == ["sent"]
    assert outcome.status == "claimed-elsewhere"
    assert provider_calls.call_count == 1


def test_payment_between_queue_and_send_cancels_the_send(tenant_a, provider_calls):
    invoice, message = queue_reminder(tenant_a)
    with scope(tenant=tenant_a):
        invoice_record_payment(tenant=tenant_a, invoice=invoice, amount=invoice.amount)
        message.refresh_from_db()
        assert message.status == MessageStatus.CANCELLED
        assert message_send(tenant=tenant_a, message_id=message.pk).status == "cancelled"
    assert provider_calls.call_count == 0


def test_a_payment_stops_the_reminders(tenant_a):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=date(2026, 12, 7))
    with scope(tenant=tenant_a):
        ladder_evaluate(tenant=tenant_a, today=date(2026, 12, 2))  # D-5 queued
        invoice_record_payment(tenant=tenant_a, invoice=invoice, amount=invoice.amount)
        for day in range(3, 30):
            ladder_evaluate(tenant=tenant_a, today=date(2026, 12, day))
        reminders = list(Message.objects.filter(purpose=MessagePurpose.REMINDER))
    assert len(reminders) == 1
    assert reminders[0].status == MessageStatus.CANCELLED


def test_partial_payment_keeps_the_ladder_with_the_remaining_amount(tenant_a):
    invoice, message = queue_reminder(tenant_a, amount="1000.00")
    with scope(tenant=tenant_a):
        invoice_record_payment(tenant=tenant_a, invoice=invoice, amount=Decimal("400.00"))
        assert message_send(tenant=tenant_a, message_id=message.pk).status == "sent"
        message.refresh_from_db()
        invoice.refresh_from_db()
    assert invoice.status == "open"
    assert "R$ 600,00" in message.body


def test_payment_is_idempotent_on_external_id(tenant_a):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=today_of(tenant_a), amount="500.00")
    with scope(tenant=tenant_a):
        first, created = invoice_record_payment(
            tenant=tenant_a, invoice=invoice, amount=Decimal("100"), external_id="PAY-1"
        )
        again, created_again = invoice_record_payment(
            tenant=tenant_a, invoice=invoice, amount=Decimal("100"), external_id="PAY-1"
        )
        invoice.refresh_from_db()
    assert created and not created_again and first.pk == again.pk
    assert invoice.amount_paid == Decimal("100.00")


def test_reminded_invoice_paid_now_gets_a_thank_you(tenant_a, django_capture_on_commit_callbacks):
    invoice, message = queue_reminder(tenant_a)
    with scope(tenant=tenant_a):
        message_send(tenant=tenant_a, message_id=message.pk)
        with django_capture_on_commit_callbacks(execute=True):
            invoice_record_payment(tenant=tenant_a, invoice=invoice, amount=invoice.amount)
        thanks = Message.objects.get(purpose=MessagePurpose.THANK_YOU)
    assert thanks.status == MessageStatus.SENT  # eager Celery in tests
    assert "Confirmamos o pagamento" in thanks.body


def test_history_sends_no_thank_you(tenant_a):
    reminded, message = queue_reminder(tenant_a)
    never_reminded = InvoiceFactory(
        tenant=tenant_a, due_date=today_of(tenant_a) + timedelta(days=20)
    )
    with scope(tenant=tenant_a):
        message_send(tenant=tenant_a, message_id=message.pk)
        # Paid 4 days ago, recorded only now: history.
        old = timezone.now() - timedelta(days=4)
        invoice_record_payment(
            tenant=tenant_a, invoice=reminded, amount=reminded.amount, paid_at=old
        )
        # Paid now, but never got a reminder.
        invoice_record_payment(
            tenant=tenant_a, invoice=never_reminded, amount=never_reminded.amount
        )
        assert not Message.objects.filter(purpose=MessagePurpose.THANK_YOU).exists()


def test_payments_api_records_a_list_atomically_and_idempotently(api_a, tenant_a):
    inv = InvoiceFactory(
        tenant=tenant_a, external_id="INV-P", due_date=today_of(tenant_a), amount="300.00"
    )
    payload = [
        {"invoice": "INV-P", "amount": "100.00", "external_id": "P1"},
        {
            "invoice": "INV-P",
            "amount": "200.00",
            "external_id": "P2",
            "paid_at": timezone.now().isoformat(),
        },
    ]
    response = api_a.post("/api/v1/payments/", json.dumps(payload), content_type="application/json")
    assert response.status_code == 201, response.content
    again = api_a.post("/api/v1/payments/", json.dumps(payload), content_type="application/json")
    assert again.status_code == 200
    with scopes_disabled():
        inv.refresh_from_db()
        assert Payment.objects.filter(tenant=tenant_a).count() == 2
    assert inv.status == "paid" and inv.amount_paid == Decimal("300.00")


@pytest.mark.parametrize(
    "item, field",
    [
        ({"invoice": "NOPE", "amount": "1"}, "invoice"),
        ({"invoice": "INV-P", "amount": "0"}, "amount"),
        ({"invoice": "INV-P", "amount": "1", "paid_at": "2999-01-01T00:00:00Z"}, "paid_at"),
        ("not an object", "non_field_errors"),
    ],
)
def test_payments_api_refuses_bad_items_and_writes_nothing(api_a, tenant_a, item, field):
    InvoiceFactory(tenant=tenant_a, external_id="INV-P", due_date=today_of(tenant_a))
    good = {"invoice": "INV-P", "amount": "1.00", "external_id": "G"}
    response = api_a.post(
        "/api/v1/payments/", json.dumps([good, item]), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()[0] == {} and field in response.json()[1]
    # The same errors as the item alone (one serializer checks the whole list).
    alone = api_a.post("/api/v1/payments/", json.dumps([item]), content_type="application/json")
    assert alone.json()[0] == response.json()[1]
    # An invalid item first does not leak its errors into the next.
    reversed_ = api_a.post(
        "/api/v1/payments/", json.dumps([item, good]), content_type="application/json"
    )
    assert reversed_.json()[1] == {}
    with scopes_disabled():
        assert not Payment.objects.exists()
        assert Invoice.objects.get(external_id="INV-P").amount_paid == 0


def test_messages_api_shows_invoice_step_and_purpose(api_a, tenant_a):
    invoice, message = queue_reminder(tenant_a)
    with scope(tenant=tenant_a):
        message_send(tenant=tenant_a, message_id=message.pk)
    [row] = api_a.get("/api/v1/messages/").json()["results"]
    assert row["id"] == message.pk
    assert row["invoice"] == invoice.external_id
    assert row["channel"] == "whatsapp"
    assert row["status"] == "sent"
    assert row["step_offset"] == 0
    assert row["purpose"] == "reminder"
    assert "vence hoje" in row["body"]


def test_tasks_api_lists_and_updates_tasks(api_a, tenant_a):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=today_of(tenant_a) - timedelta(days=15))
    with scope(tenant=tenant_a):
        ladder_evaluate(tenant=tenant_a, today=today_of(tenant_a))
    [task] = api_a.get("/api/v1/tasks/").json()["results"]
    assert task["invoice"] == invoice.external_id and task["status"] == "open"
    response = api_a.patch(
        f"/api/v1/tasks/{task['id']}/",
        json.dumps({"status": "done"}),
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["completed_at"]


def test_status_changes_appear_in_the_timeline(tenant_a):
    invoice, message = queue_reminder(tenant_a)
    with scope(tenant=tenant_a):
        message_send(tenant=tenant_a, message_id=message.pk)
        kinds = list(Interaction.objects.filter(invoice=invoice).values_list("kind", "summary"))
    assert ("message_status", "whatsapp: sending → sent") in kinds


def test_outside_the_send_window_the_message_waits(tenant_a, provider_calls):
    tenant_a.send_window_start = datetime.strptime("08:00", "%H:%M").time()
    tenant_a.send_window_end = datetime.strptime("20:00", "%H:%M").time()
    tenant_a.save()
    _invoice, message = queue_reminder(tenant_a)
    three_am = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)  # 03:00 in São Paulo
    with scope(tenant=tenant_a):
        outcome = message_send(tenant=tenant_a, message_id=message.pk, now=three_am)
        message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    assert outcome.defer_until.hour == 8
    assert provider_calls.call_count == 0


def test_outside_the_send_window_a_batch_waits_in_the_database_not_in_a_worker(
    tenant_a, provider_calls, frozen_clock, django_capture_on_commit_callbacks
):

    _invoice, message = queue_reminder(tenant_a)
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    today = tenant_today(tenant=tenant_a)
    tenant_a.send_days = ",".join(d for i, d in enumerate(days) if i != today.weekday())
    tenant_a.save()
    with mock.patch.object(send_messages, "apply_async") as later:
        result = send_messages.apply(
            kwargs={"message_ids": [message.pk], "tenant_id": tenant_a.pk}
        ).get()
        assert result == {"deferred": 1}
        assert provider_calls.call_count == 0
        # No task held until tomorrow: the message keeps its time, the due tick queues it.
        assert later.call_args_list == []
        with scope(tenant=tenant_a):
            message.refresh_from_db()
        assert message.status == MessageStatus.QUEUED
        opens_at = message.next_attempt_at
        assert timezone.localtime(opens_at).date() == today + timedelta(days=1)
        assert messages_send_due() == 0  # not due yet, not taken for lost
        frozen_clock.move_to(opens_at)
        with django_capture_on_commit_callbacks(execute=True):
            assert messages_send_due() == 1
    [call] = later.call_args_list
    assert call.kwargs["kwargs"]["message_ids"] == [message.pk]


def test_broken_template_fails_its_message_with_a_reason(tenant_a):
    _invoice, message = queue_reminder(tenant_a)
    with scope(tenant=tenant_a):
        template = message.template
        template.body = "Olá {{ nome_que_nao_existe }}"
        template.save()
        assert message_send(tenant=tenant_a, message_id=message.pk).status == "failed"
        message.refresh_from_db()
    assert "nome_que_nao_existe" in message.error
