"""The daily evaluation: the default ladder, exactly-once ledger, catch-up and stop rules."""

import json
from datetime import date, time, timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from collections_app import tasks
from collections_app.engine import ladder_evaluate, ladders_evaluate_many
from collections_app.invoices.services import invoice_cancel
from collections_app.models import Dispatch, DispatchStatus, FollowUpTask, Invoice, Ladder, Segment
from collections_app.payments.services import invoice_record_payment
from collections_app.tasks import ladders_evaluate_batch, ladders_tick
from messaging.models import Message, MessageStatus
from tenants.selectors import tenant_today
from tests.collections_app.factories import InvoiceFactory, customer_of
from tests.tenants.factories import TenantFactory

pytestmark = pytest.mark.django_db

# A Wednesday with no holiday around it.
TODAY = date(2026, 12, 2)


def evaluate(tenant, day, **kwargs):
    with scope(tenant=tenant):
        return ladder_evaluate(tenant=tenant, today=day, **kwargs)


def messages_of(tenant):
    with scopes_disabled():
        return list(Message.objects.filter(tenant=tenant).order_by("id"))


def test_due_invoice_gets_one_dispatch_and_message_per_step(tenant_a):
    InvoiceFactory(tenant=tenant_a, due_date=TODAY + timedelta(days=5))  # D-5 today: e-mail
    result = evaluate(tenant_a, TODAY)
    assert (result.created, result.messages) == (1, 1)
    [message] = messages_of(tenant_a)
    assert message.channel == "email"
    assert message.status == MessageStatus.QUEUED


def test_running_the_same_day_twice_creates_nothing_new(tenant_a):
    InvoiceFactory(tenant=tenant_a, due_date=TODAY)
    first = evaluate(tenant_a, TODAY)
    second = evaluate(tenant_a, TODAY)
    assert first.created == 1 and first.messages == 1
    assert second.created == 0 and second.messages == 0
    with scopes_disabled():
        assert Dispatch.objects.filter(tenant=tenant_a).count() == 1
    assert len(messages_of(tenant_a)) == 1


def test_run_ladders_command_json_last_line(tenant_a, capsys):
    InvoiceFactory(tenant=tenant_a, due_date=TODAY)
    call_command("run_ladders", "--tenant", tenant_a.slug, "--date", TODAY.isoformat(), "--json")

    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["created"] == 1
    assert summary["messages"] == 1
    assert summary["skipped"] == {}
    call_command("run_ladders", "--tenant", tenant_a.slug, "--date", TODAY.isoformat(), "--json")
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["created"] == 0 and again["messages"] == 0


def test_d0_falls_back_from_whatsapp_to_sms_to_email(tenant_a):
    no_phone = {"external_id": "C-MAIL", "name": "Ana", "email": "ana@example.com"}
    InvoiceFactory(tenant=tenant_a, due_date=TODAY, customer=no_phone)
    with_phone = {
        "external_id": "C-PHONE",
        "name": "Bia",
        "email": "b@example.com",
        "phone": "+5511987654321",
    }
    InvoiceFactory(tenant=tenant_a, due_date=TODAY, customer=with_phone)
    evaluate(tenant_a, TODAY)
    channels = sorted((m.recipient, m.channel) for m in messages_of(tenant_a))
    assert channels == [("+5511987654321", "whatsapp"), ("ana@example.com", "email")]


def test_opted_out_channel_is_not_used(tenant_a):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=TODAY)
    customer = customer_of(invoice)
    customer.opted_out_channels = ["whatsapp"]
    customer.save()
    evaluate(tenant_a, TODAY)
    assert [m.channel for m in messages_of(tenant_a)] == ["sms"]


def test_d3_goes_on_every_listed_channel(tenant_a):
    monday, thursday = date(2026, 11, 30), date(2026, 12, 3)
    InvoiceFactory(tenant=tenant_a, due_date=monday)
    tenant_a.last_evaluated_on = thursday - timedelta(days=1)  # not a first evaluation
    tenant_a.last_evaluated_at = timezone.now()
    tenant_a.save()
    evaluate(tenant_a, thursday)
    assert sorted(m.channel for m in messages_of(tenant_a)) == ["email", "whatsapp"]


def test_d15_creates_a_follow_up_task_not_a_message(tenant_a):
    InvoiceFactory(tenant=tenant_a, due_date=TODAY - timedelta(days=15))
    result = evaluate(tenant_a, TODAY)
    assert result.tasks == 1 and result.messages == 0
    with scopes_disabled():
        task = FollowUpTask.objects.get(tenant=tenant_a)
    assert "Ligar" in task.title
    assert task.due_on == TODAY


def test_payment_cancels_the_ladders_open_call_task(tenant_a):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=TODAY - timedelta(days=15))
    evaluate(tenant_a, TODAY)
    with scope(tenant=tenant_a):
        invoice_record_payment(tenant=tenant_a, invoice=invoice, amount=invoice.amount)
        task = FollowUpTask.objects.get()
    assert task.status == "cancelled" and task.completed_at is not None


def test_paid_and_cancelled_invoices_are_skipped(tenant_a):
    paid = InvoiceFactory(tenant=tenant_a, due_date=TODAY)
    cancelled = InvoiceFactory(tenant=tenant_a, due_date=TODAY)
    with scope(tenant=tenant_a):
        invoice_record_payment(tenant=tenant_a, invoice=paid, amount=paid.amount)
        invoice_cancel(tenant=tenant_a, invoice=cancelled)
    result = evaluate(tenant_a, TODAY)
    assert result.created == 0 and result.messages == 0
    assert result.skipped == {"invoice_paid": 1, "invoice_cancelled": 1}


def test_disputed_invoice_gets_a_skipped_ledger_row(tenant_a):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=TODAY)
    with scopes_disabled():
        Invoice.objects.filter(pk=invoice.pk).update(disputed=True)
    result = evaluate(tenant_a, TODAY)
    assert result.skipped == {"disputed": 1}
    with scopes_disabled():
        dispatch = Dispatch.objects.get(invoice=invoice)
    assert (dispatch.status, dispatch.reason) == (DispatchStatus.SKIPPED, "disputed")
    assert messages_of(tenant_a) == []


def test_first_evaluation_starts_at_the_current_position(tenant_a):
    # Due 4 days ago: D-5, D-1, D0 and D+3 have all passed; none is sent late.
    InvoiceFactory(tenant=tenant_a, due_date=TODAY - timedelta(days=4))
    result = evaluate(tenant_a, TODAY)
    assert result.created == 0 and result.messages == 0


def test_catch_up_sends_only_the_latest_missed_step(tenant_a):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=TODAY + timedelta(days=6))
    evaluate(tenant_a, TODAY)  # first evaluation: nothing due (D-6)
    # An outage: the next run is 8 days later; D-5, D-1 and D0 were missed.
    later = TODAY + timedelta(days=8)
    result = evaluate(tenant_a, later)
    with scopes_disabled():
        rows = {d.step.offset_days: d for d in Dispatch.objects.filter(invoice=invoice)}
    assert rows[0].status == DispatchStatus.QUEUED
    assert rows[-5].reason == rows[-1].reason == "superseded"
    assert result.messages == 1  # one message (D0 WhatsApp), not a burst
    assert [m.channel for m in messages_of(tenant_a)] == ["whatsapp"]


def test_pre_due_step_landing_on_due_date_is_dropped(tenant_a):
    # Send days Monday–Friday only: D-1 of a Monday due date falls on Sunday → moves to the
    # due date itself → dropped rather than sent on the due day as a "tomorrow" reminder.
    tenant_a.send_days = "mon,tue,wed,thu,fri"
    tenant_a.save()
    monday = date(2026, 12, 7)
    InvoiceFactory(tenant=tenant_a, due_date=monday)
    for day in (date(2026, 12, 5), date(2026, 12, 6), monday):
        evaluate(tenant_a, day)
    with scopes_disabled():
        offsets = sorted(d.step.offset_days for d in Dispatch.objects.filter(tenant=tenant_a))
    assert offsets == [0]


def test_dry_run_writes_nothing(tenant_a):
    InvoiceFactory(tenant=tenant_a, due_date=TODAY)
    result = evaluate(tenant_a, TODAY, dry_run=True)
    assert result.created == 1 and result.planned[0]["channels"] == ["whatsapp"]
    with scopes_disabled():
        assert not Dispatch.objects.exists()
    tenant_a.refresh_from_db()
    assert tenant_a.last_evaluated_on is None


def test_evaluation_never_touches_another_tenant(tenant_a, tenant_b):
    InvoiceFactory(tenant=tenant_b, due_date=TODAY)
    result = evaluate(tenant_a, TODAY)
    assert result.created == 0
    assert messages_of(tenant_b) == []


def test_beat_tick_evaluates_each_tenant_once_per_local_day(tenant_a, tenant_b):

    tenant_b.run_time = time(23, 59, 59)  # not yet time for B today
    tenant_b.save()
    tenant_a.run_time = time(0, 0)
    tenant_a.save()
    assert ladders_tick() == 1  # eager in tests: A is evaluated now
    tenant_a.refresh_from_db()
    assert tenant_a.last_evaluated_on == tenant_today(tenant=tenant_a)
    assert ladders_tick() == 0  # already evaluated today


def test_beat_tick_queues_due_tenants_in_batches_of_the_same_local_day(
    tenant_a, tenant_b, monkeypatch
):

    tenant_c = TenantFactory()
    for tenant in (tenant_a, tenant_b, tenant_c):
        tenant.run_time = time(0, 0)
        tenant.save()
    monkeypatch.setattr(tasks, "BATCH_TENANTS", 2)
    with mock.patch.object(tasks.ladders_evaluate_batch, "delay") as delay:
        assert tasks.ladders_tick() == 3
    batches = [call.kwargs["tenant_ids"] for call in delay.call_args_list]
    assert sorted(len(b) for b in batches) == [1, 2]
    assert sorted(pk for b in batches for pk in b) == sorted(
        t.pk for t in (tenant_a, tenant_b, tenant_c)
    )
    assert {call.kwargs["day"] for call in delay.call_args_list} == {
        tenant_today(tenant=tenant_a).isoformat()
    }


def test_a_batch_task_evaluates_its_tenants_in_one_run(tenant_a, tenant_b):

    InvoiceFactory(tenant=tenant_a, due_date=TODAY)
    InvoiceFactory(tenant=tenant_b, due_date=TODAY)
    results = ladders_evaluate_batch(tenant_ids=[tenant_b.pk, tenant_a.pk], day=TODAY.isoformat())
    assert [(r["tenant"], r["created"]) for r in results] == [
        (tenant_a.slug, 1),
        (tenant_b.slug, 1),
    ]
    for tenant in (tenant_a, tenant_b):
        tenant.refresh_from_db()
        assert tenant.last_evaluated_on == TODAY


def test_a_batch_makes_as_many_queries_for_five_tenants_as_for_two():
    """Set-based: segments, escalation, decisions and writes cost a fixed number of queries
    per batch, not a round per tenant."""

    def queries_for(n: int) -> tuple[int, int]:
        tenants = [TenantFactory() for _ in range(n)]
        for tenant in tenants:
            tenant.escalation_amount = 1
            tenant.run_time = time(0, 0)
            tenant.save()
            InvoiceFactory(tenant=tenant, due_date=TODAY)
            InvoiceFactory(tenant=tenant, due_date=TODAY - timedelta(days=7))
            with scopes_disabled():
                Segment.objects.create(
                    tenant=tenant,
                    name="Todos",
                    ladder=Ladder.objects.get(tenant=tenant, is_default=True),
                    rule={"kind": "amount_at_least", "value": "0"},
                )
        with CaptureQueriesContext(connection) as queries:
            results = ladders_evaluate_many(tenants=tenants, today=TODAY)
        assert all(r.messages >= 2 and r.tasks == 1 for r in results)  # D0, D+7, escalation
        return len(queries.captured_queries)

    assert queries_for(2) == queries_for(5)
