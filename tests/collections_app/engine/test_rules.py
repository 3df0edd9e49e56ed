"""May a step go out: the one rule (`engine/rules.py`) and the callers that share it — the daily
evaluation, the explanation, the forecast and the send-time guard."""

from datetime import date, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django_scopes import scope, scopes_disabled

from collections_app.engine import ladder_evaluate
from collections_app.engine.explain import invoice_explain
from collections_app.engine.forecast import tenant_forecast
from collections_app.engine.rules import (
    StepFacts,
    below_minimum,
    send_stop_reason,
    step_skip_reason,
)
from collections_app.models import Dispatch, DispatchStatus, LadderStep, PaymentPromise
from collections_app.payments.promises import promise_create
from messaging.models import Message, MessageStatus
from messaging.providers.console import ConsoleProvider
from messaging.sending import message_send
from tests.clock import on_the_suite_day
from tests.collections_app.factories import InvoiceFactory

DAY = date(2026, 12, 2)  # the suite's day: a Wednesday with no holiday around it
LATER = DAY + timedelta(days=3)


# --- the rule table ---------------------------------------------------------------------------


def test_an_open_invoice_with_nothing_against_it_may_get_its_step():
    assert step_skip_reason(StepFacts(), on=DAY) is None


@pytest.mark.parametrize(
    "facts, reason",
    [
        (StepFacts(evaluated_through=DAY), "evaluated_today"),
        (StepFacts(status="paid"), "invoice_paid"),
        (StepFacts(status="cancelled"), "invoice_cancelled"),
        (StepFacts(status="written_off"), "invoice_written_off"),
        (StepFacts(status="in_agreement"), "invoice_in_agreement"),
        (StepFacts(disputed=True), "disputed"),
        (StepFacts(promised_until=DAY), "promise_open"),
        (StepFacts(paused_until=DAY), "paused"),
        (StepFacts(customer_paused_until=LATER), "paused"),
        (StepFacts(below_min_amount=True), "below_min_amount"),
    ],
)
def test_each_reason(facts, reason):
    assert step_skip_reason(facts, on=DAY) == reason


@pytest.mark.parametrize(
    "facts",
    [
        StepFacts(evaluated_through=DAY - timedelta(days=1)),
        StepFacts(promised_until=DAY - timedelta(days=1)),  # the promise's date has passed
        StepFacts(paused_until=DAY - timedelta(days=1)),
        StepFacts(customer_paused_until=DAY - timedelta(days=1)),
    ],
)
def test_a_date_before_the_day_does_not_hold_the_step(facts):
    assert step_skip_reason(facts, on=DAY) is None


def test_an_open_promise_holds_only_a_step_that_skips_while_a_promise_is_open():
    assert step_skip_reason(StepFacts(promised_until=LATER), on=DAY) == "promise_open"
    flag_off = StepFacts(promised_until=LATER, skip_while_promise=False)
    assert step_skip_reason(flag_off, on=DAY) is None
    # With the flag off the next reason is given, never promise_open.
    paused_too = StepFacts(promised_until=LATER, skip_while_promise=False, paused_until=LATER)
    assert step_skip_reason(paused_too, on=DAY) == "paused"


def test_the_order_of_checks():
    everything = dict(
        evaluated_through=DAY,
        status="paid",
        disputed=True,
        promised_until=LATER,
        paused_until=LATER,
        below_min_amount=True,
    )
    expected = [
        ("evaluated_through", None, "evaluated_today"),
        ("status", "open", "invoice_paid"),
        ("disputed", False, "disputed"),
        ("promised_until", None, "promise_open"),
        ("paused_until", None, "paused"),
        ("below_min_amount", False, "below_min_amount"),
    ]
    for name, cleared, reason in expected:
        assert step_skip_reason(StepFacts(**everything), on=DAY) == reason
        everything[name] = cleared
    assert step_skip_reason(StepFacts(**everything), on=DAY) is None


@pytest.mark.parametrize(
    "amount_due, min_amount, below",
    [
        (Decimal("99.99"), Decimal("100"), True),
        (Decimal("100"), Decimal("100"), False),
        (Decimal("0"), None, False),
    ],
)
def test_below_minimum(amount_due, min_amount, below):
    assert below_minimum(amount_due=amount_due, min_amount=min_amount) is below


def stop(*invoices, channel="sms", opted_out=(), reminder=True):
    return send_stop_reason(
        channel=channel,
        opted_out_channels=list(opted_out),
        reminder=reminder,
        invoices=list(invoices),
        today=DAY,
    )


def test_at_send_time_a_channel_the_customer_left_stops_any_message():
    assert stop(StepFacts(), opted_out=["sms"]) == "opted_out"
    assert stop(StepFacts(), opted_out=["sms"], reminder=False) == "opted_out"
    assert stop(StepFacts(), opted_out=["email"]) is None


def test_at_send_time_only_reminders_follow_the_step_rule():
    assert stop(StepFacts(status="paid"), reminder=False) is None
    assert stop() is None  # a message about no invoice


@pytest.mark.parametrize(
    "facts, reason",
    [
        (StepFacts(status="in_agreement"), "in_agreement"),
        (StepFacts(status="paid"), "invoice_paid"),
        (StepFacts(status="cancelled"), "invoice_cancelled"),
        (StepFacts(status="written_off"), "invoice_cancelled"),
        (StepFacts(disputed=True), "disputed"),
        (StepFacts(promised_until=LATER), "promise_open"),
        (StepFacts(customer_paused_until=DAY), "customer_paused"),
        (StepFacts(paused_until=DAY), "invoice_paused"),
        (StepFacts(below_min_amount=True), "below_min_amount"),
        (StepFacts(promised_until=LATER, skip_while_promise=False), None),
    ],
)
def test_at_send_time_a_reminder_stops_with_the_words_of_a_cancelled_message(facts, reason):
    assert stop(facts) == reason


def test_a_reminder_about_several_invoices_leaves_while_one_may_get_its_step():
    assert stop(StepFacts(status="paid"), StepFacts()) is None
    # Every invoice held: the reason first in the rule's order.
    assert stop(StepFacts(paused_until=DAY), StepFacts(status="paid")) == "invoice_paid"
    assert stop(StepFacts(paused_until=DAY), StepFacts(promised_until=LATER)) == "promise_open"
    # Each invoice is judged with its own step.
    held = StepFacts(promised_until=LATER)
    free = StepFacts(promised_until=LATER, skip_while_promise=False)
    assert stop(held, free) is None
    assert stop(held, held) == "promise_open"


# --- the callers, end to end ------------------------------------------------------------------


@pytest.fixture
def provider_calls():
    with mock.patch.object(
        ConsoleProvider, "send", autospec=True, side_effect=ConsoleProvider.send
    ) as spy:
        yield spy


def due_today_step(tenant, *, skip_while_promise: bool) -> LadderStep:
    """The default ladder's D0 (WhatsApp, SMS or e-mail), with the flag set as asked."""
    with scopes_disabled():
        step = LadderStep.objects.get(tenant=tenant, ladder__is_default=True, offset_days=0)
        step.skip_while_promise = skip_while_promise
        step.save(update_fields=["skip_while_promise"])
    return step


def promised_before_the_day(tenant):
    """An invoice due DAY with a promise, made the day before, to pay by LATER."""
    invoice = InvoiceFactory(tenant=tenant, due_date=DAY)
    with scope(tenant=tenant):
        promise_create(
            tenant=tenant, invoice=invoice, promised_date=LATER, today=DAY - timedelta(days=1)
        )
    return invoice


def foreseen(tenant, invoice):
    """What the explanation says of the invoice's D0, and the forecast's totals for DAY."""
    planned = next(
        e
        for e in invoice_explain(tenant=tenant, invoice=invoice, today=DAY)
        if e["offset_days"] == 0
    )
    return planned, tenant_forecast(tenant=tenant, start=DAY, days=1)["totals"]


@pytest.mark.django_db
@on_the_suite_day
def test_a_step_that_does_not_skip_for_promises_is_queued_and_sent_despite_one(
    tenant_a, provider_calls
):
    due_today_step(tenant_a, skip_while_promise=False)
    invoice = promised_before_the_day(tenant_a)
    with scope(tenant=tenant_a):
        planned, forecast = foreseen(tenant_a, invoice)
        result = ladder_evaluate(tenant=tenant_a, today=DAY)
        [message] = Message.objects.all()
        outcome = message_send(tenant=tenant_a, message_id=message.pk)
        message.refresh_from_db()
        assert PaymentPromise.objects.get().status == "open"
    # The explanation and the forecast say what the evaluation then does.
    assert (planned["state"], planned["blocked_by"]) == ("planned", None)
    assert (forecast["messages"], forecast["skipped"]) == (1, {})
    assert (result.messages, dict(result.skipped)) == (1, {})
    # The send-time guard lets it go: it is sent, not cancelled as promise_open.
    assert outcome.status == "sent"
    assert (message.status, message.error) == (MessageStatus.SENT, "")
    assert provider_calls.call_count == 1


@pytest.mark.django_db
@on_the_suite_day
def test_a_step_that_skips_for_promises_is_skipped_by_every_caller(tenant_a, provider_calls):
    due_today_step(tenant_a, skip_while_promise=True)
    invoice = promised_before_the_day(tenant_a)
    with scope(tenant=tenant_a):
        planned, forecast = foreseen(tenant_a, invoice)
        result = ladder_evaluate(tenant=tenant_a, today=DAY)
        dispatch = Dispatch.objects.get(invoice=invoice)
        assert not Message.objects.exists()
    assert planned["blocked_by"] == "promise_open"
    assert forecast["skipped"] == {"promise_open": 1}
    assert result.skipped == {"promise_open": 1} and result.messages == 0
    assert (dispatch.status, dispatch.reason) == (DispatchStatus.SKIPPED, "promise_open")
    assert provider_calls.call_count == 0


@pytest.mark.django_db
@on_the_suite_day
@pytest.mark.parametrize(
    "skip_while_promise, status, error",
    [
        (False, MessageStatus.SENT, ""),
        (True, MessageStatus.CANCELLED, "promise_open"),
    ],
)
def test_the_send_time_guard_reads_the_flag_of_the_step_that_queued_the_reminder(
    tenant_a, provider_calls, skip_while_promise, status, error
):
    """A promise recorded between the evaluation and the send, without the service that
    cancels queued reminders (as a promise taken by another path would be): the guard alone
    decides."""
    step = due_today_step(tenant_a, skip_while_promise=skip_while_promise)
    invoice = InvoiceFactory(tenant=tenant_a, due_date=DAY)
    with scope(tenant=tenant_a):
        ladder_evaluate(tenant=tenant_a, today=DAY)
        [message] = Message.objects.all()
        assert message.invoice_links.get().dispatch.step_id == step.pk
        PaymentPromise.objects.create(tenant=tenant_a, invoice=invoice, promised_date=LATER)
        message_send(tenant=tenant_a, message_id=message.pk)
        message.refresh_from_db()
    assert (message.status, message.error) == (status, error)
    assert provider_calls.call_count == (1 if status == MessageStatus.SENT else 0)


@pytest.mark.django_db
@on_the_suite_day
@pytest.mark.parametrize(
    "skip_while_promise, status, error",
    [
        (False, MessageStatus.SENT, ""),
        (True, MessageStatus.CANCELLED, "promise_open"),
    ],
)
def test_a_promise_taken_after_the_evaluation_cancels_only_the_reminders_the_rule_stops(
    tenant_a, provider_calls, skip_while_promise, status, error
):
    """`promise_create` rechecks the queued reminders with the send-time rule: a step that
    goes on during a promise keeps its reminder queued, and it is sent."""
    due_today_step(tenant_a, skip_while_promise=skip_while_promise)
    invoice = InvoiceFactory(tenant=tenant_a, due_date=DAY)
    with scope(tenant=tenant_a):
        ladder_evaluate(tenant=tenant_a, today=DAY)
        [message] = Message.objects.all()
        promise_create(tenant=tenant_a, invoice=invoice, promised_date=LATER, today=DAY)
        message.refresh_from_db()
        queued_after_promise = message.status
        message_send(tenant=tenant_a, message_id=message.pk)
        message.refresh_from_db()
    expected_after_promise = MessageStatus.QUEUED if not skip_while_promise else status
    assert queued_after_promise == expected_after_promise
    assert (message.status, message.error) == (status, error)
    assert provider_calls.call_count == (1 if status == MessageStatus.SENT else 0)
