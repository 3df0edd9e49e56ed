"""At most one provider call per message (invariant 2), whatever happens around the send: two
workers racing, a redelivered task, the day evaluated twice, a worker dying between `sending`
and `sent` (settled by reconciliation, never by a blind resend), transient and permanent
provider errors. Every test counts the provider's calls."""

import threading
from datetime import date, timedelta
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from collections_app.engine import ladder_evaluate
from collections_app.models import Interaction, InteractionKind
from collections_app.tasks import ladders_tick
from messaging import enqueue, hooks
from messaging.models import Message, MessageStatus
from messaging.providers import TransportError
from messaging.providers.console import ConsoleProvider
from messaging.sending import message_send
from messaging.tasks import (
    messages_fan_out,
    messages_send_due,
    messages_upkeep,
    send_message,
    send_messages,
)
from messaging.upkeep import FOUND_NOTE, RESENT_NOTE, messages_reconcile_stuck
from tests.collections_app.factories import InvoiceFactory
from tests.tenants.factories import TenantFactory

# A business day (Wednesday): the ladder is evaluated as of this date whatever the clock says.
DAY = date(2026, 12, 2)
real_send = ConsoleProvider.send


class WorkerCrash(RuntimeError):
    """Anything the send path does not expect: it must not put the message back in the queue."""


@pytest.fixture(autouse=True)
def outbox(settings, tmp_path):
    """A private outbox, so console lookups see only this test's sends."""
    settings.MESSAGING_OUTBOX_PATH = tmp_path / "outbox.jsonl"
    return settings.MESSAGING_OUTBOX_PATH


@pytest.fixture
def provider():
    """The console provider with every call counted; `provider.side_effect` changes what a
    call does (the default is the real send, which writes the outbox)."""
    with mock.patch.object(ConsoleProvider, "send", autospec=True, side_effect=real_send) as spy:
        yield spy


def queue_messages(tenant, *dues: date) -> list[Message]:
    """Invoices due on `dues`, evaluated on DAY, their send tasks held back: queued messages."""
    for due in dues:
        InvoiceFactory(tenant=tenant, due_date=due)
    # Held back so that, in transactional tests, the eager send does not run at commit.
    with mock.patch.object(send_messages, "apply_async"), scope(tenant=tenant):
        ladder_evaluate(tenant=tenant, today=DAY)
        return list(Message.objects.filter(status=MessageStatus.QUEUED).order_by("id"))


def queue_one(tenant) -> Message:
    [message] = queue_messages(tenant, DAY)
    return message


@pytest.fixture
def moves():
    """Every status move messaging announces (`hooks.message_status_changed`): message id,
    from, to and the note (`error`) it carries."""
    heard = []

    def listen(sender, changes, **kwargs):
        heard.extend((m.pk, old, new, m.error) for m, old, new in changes)

    hooks.message_status_changed.connect(listen, weak=False, dispatch_uid="test-moves")
    yield heard
    hooks.message_status_changed.disconnect(dispatch_uid="test-moves")


def reload(tenant, message: Message) -> Message:
    with scope(tenant=tenant):
        return Message.objects.get(pk=message.pk)


def status_changes(tenant, message: Message) -> list[tuple[str, str]]:
    with scope(tenant=tenant):
        rows = Interaction.objects.filter(
            message_id=message.pk, kind=InteractionKind.MESSAGE_STATUS
        ).order_by("id")
        return [(row.data["from"], row.data["to"]) for row in rows]


# --- Racing workers, redelivery, re-runs ----------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_call_the_provider_once(provider):
    tenant = TenantFactory()
    message = queue_one(tenant)
    # Both workers must have read the message as queued before either claims it.
    barrier = threading.Barrier(2, timeout=10)
    real_guard = hooks.message_cancel_reason

    def guard_then_wait(msg):
        reason = real_guard(msg)
        barrier.wait()
        return reason

    outcomes, errors = [], []

    def worker():
        try:
            with scope(tenant=tenant):
                outcomes.append(message_send(tenant=tenant, message_id=message.pk).status)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    with mock.patch("messaging.hooks.message_cancel_reason", side_effect=guard_then_wait):
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    assert not errors
    assert sorted(outcomes) == ["claimed-elsewhere", "sent"]
    assert provider.call_count == 1
    assert reload(tenant, message).status == MessageStatus.SENT


@pytest.mark.django_db
def test_a_redelivered_send_task_calls_the_provider_once(tenant_a, provider):
    message = queue_one(tenant_a)
    kwargs = {"message_id": message.pk, "tenant_id": tenant_a.pk}
    assert send_message.apply(kwargs=kwargs).get() == MessageStatus.SENT
    assert send_message.apply(kwargs=kwargs).get() == MessageStatus.SENT
    assert provider.call_count == 1
    message = reload(tenant_a, message)
    assert message.status == MessageStatus.SENT and message.attempts == 1


@pytest.mark.django_db
def test_the_day_run_twice_sends_each_message_once(tenant_a, provider):
    # Default ladder: due today (WhatsApp), a week ago (WhatsApp and SMS), in five days (e-mail).
    first = queue_messages(tenant_a, DAY, DAY - timedelta(days=7), DAY + timedelta(days=5))
    assert len(first) >= 3
    with scope(tenant=tenant_a):
        again = ladder_evaluate(tenant=tenant_a, today=DAY)
        assert Message.objects.count() == len(first)
        for _ in range(2):
            for message in first:
                message_send(tenant=tenant_a, message_id=message.pk)
        statuses = set(Message.objects.values_list("status", flat=True))
    assert again.as_dict()["created"] == 0
    assert provider.call_count == len(first)
    assert statuses == {MessageStatus.SENT}


# --- A crash between `sending` and `sent` ---------------------------------------------------


def crash_before_writing(self, message):
    raise WorkerCrash("worker died before the provider answered")


def crash_after_writing(self, message):
    real_send(self, message)  # the provider accepted it; the worker dies before recording it
    raise WorkerCrash("worker died after the provider answered")


@pytest.mark.django_db
@pytest.mark.parametrize("crash", [WorkerCrash, SystemExit])
def test_a_crash_after_the_claim_leaves_the_message_sending_and_not_resent(
    tenant_a, provider, crash
):
    message = queue_one(tenant_a)
    provider.side_effect = crash
    with scope(tenant=tenant_a), pytest.raises(crash):
        message_send(tenant=tenant_a, message_id=message.pk)
    assert reload(tenant_a, message).status == MessageStatus.SENDING

    provider.side_effect = real_send
    with scope(tenant=tenant_a):
        outcome = message_send(tenant=tenant_a, message_id=message.pk)
    redelivered = send_message.apply(kwargs={"message_id": message.pk, "tenant_id": tenant_a.pk})
    assert outcome.status == MessageStatus.SENDING
    assert redelivered.get() == MessageStatus.SENDING
    assert provider.call_count == 1
    assert reload(tenant_a, message).status == MessageStatus.SENDING


@pytest.mark.django_db
def test_reconciliation_sends_again_once_a_message_the_provider_never_received(
    tenant_a, provider, outbox, moves
):
    # The console outbox is the provider's whole record: no line means never received.
    message = queue_one(tenant_a)
    provider.side_effect = crash_before_writing
    with scope(tenant=tenant_a):
        with pytest.raises(WorkerCrash):
            message_send(tenant=tenant_a, message_id=message.pk)
        provider.side_effect = real_send
        assert messages_reconcile_stuck(tenant=tenant_a, older_than_seconds=0) == 1
        assert messages_reconcile_stuck(tenant=tenant_a, older_than_seconds=0) == 0
        requeued = reload(tenant_a, message)
        assert requeued.status == MessageStatus.QUEUED and requeued.resent
        assert requeued.error == RESENT_NOTE
        assert message_send(tenant=tenant_a, message_id=message.pk).status == "sent"
        assert message_send(tenant=tenant_a, message_id=message.pk).status == "sent"
    message = reload(tenant_a, message)
    assert provider.call_count == 2  # the interrupted call, and the one resend
    assert len(outbox.read_text().splitlines()) == 1
    assert message.status == MessageStatus.SENT and message.attempts == 2
    assert [(old, new, note) for _pk, old, new, note in moves] == [
        ("queued", "sending", ""),
        ("sending", "queued", RESENT_NOTE),
        ("queued", "sending", RESENT_NOTE),
        ("sending", "sent", ""),
    ]


@pytest.mark.django_db
def test_reconciliation_marks_sent_a_message_the_provider_recorded(tenant_a, provider, outbox):
    message = queue_one(tenant_a)
    provider.side_effect = crash_after_writing
    with scope(tenant=tenant_a):
        with pytest.raises(WorkerCrash):
            message_send(tenant=tenant_a, message_id=message.pk)
        provider.side_effect = real_send
        assert messages_reconcile_stuck(tenant=tenant_a, older_than_seconds=0) == 1
        assert message_send(tenant=tenant_a, message_id=message.pk).status == "sent"
    message = reload(tenant_a, message)
    assert provider.call_count == 1
    assert len(outbox.read_text().splitlines()) == 1
    assert message.status == MessageStatus.SENT
    assert message.provider == "console"
    assert message.provider_message_id == f"console-{message.ref}"
    assert message.sent_at == message.sending_at and message.error == FOUND_NOTE
    assert status_changes(tenant_a, message) == [("sending", "sent")]


@pytest.mark.django_db
def test_reconciliation_reads_the_outbox_once_for_many_messages(tenant_a, provider, outbox):
    messages = queue_messages(tenant_a, DAY, DAY, DAY)
    provider.side_effect = crash_after_writing
    with scope(tenant=tenant_a):
        for message in messages:
            with pytest.raises(WorkerCrash):
                message_send(tenant=tenant_a, message_id=message.pk)
        with mock.patch.object(
            ConsoleProvider, "lookup_many", autospec=True, side_effect=ConsoleProvider.lookup_many
        ) as lookups:
            assert messages_reconcile_stuck(tenant=tenant_a, older_than_seconds=0) == 3
        statuses = set(Message.objects.values_list("status", flat=True))
    assert lookups.call_count == len({m.channel for m in messages})
    assert statuses == {MessageStatus.SENT}
    assert provider.call_count == 3


@pytest.mark.django_db
def test_reconciliation_leaves_recent_sends_and_other_tenants_alone(tenant_a, tenant_b, provider):
    mine, theirs = queue_one(tenant_a), queue_one(tenant_b)
    provider.side_effect = crash_before_writing
    for tenant, message in ((tenant_a, mine), (tenant_b, theirs)):
        with scope(tenant=tenant), pytest.raises(WorkerCrash):
            message_send(tenant=tenant, message_id=message.pk)
    with scope(tenant=tenant_a):
        # Just claimed: its worker may still be waiting for the provider.
        assert messages_reconcile_stuck(tenant=tenant_a) == 0
        Message.objects.filter(pk=mine.pk).update(sending_at=timezone.now() - timedelta(minutes=16))
        assert messages_reconcile_stuck(tenant=tenant_a) == 1
    assert reload(tenant_a, mine).status == MessageStatus.QUEUED  # never received: once more
    assert reload(tenant_b, theirs).status == MessageStatus.SENDING
    assert provider.call_count == 2


@pytest.mark.django_db
def test_the_periodic_tick_reconciles_stuck_messages(tenant_a, provider):

    message = queue_one(tenant_a)
    provider.side_effect = crash_before_writing
    with scope(tenant=tenant_a):
        with pytest.raises(WorkerCrash):
            message_send(tenant=tenant_a, message_id=message.pk)
        Message.objects.filter(pk=message.pk).update(sending_at=timezone.now() - timedelta(hours=1))
    provider.side_effect = real_send
    with mock.patch("collections_app.tasks.ladders_evaluate_batch.delay"):
        ladders_tick()  # eager Celery in tests: the upkeep task runs here
    message = reload(tenant_a, message)
    # The outbox never got it: queued again, once (its send task leaves at commit).
    assert message.status == MessageStatus.QUEUED and message.resent
    assert provider.call_count == 1


@pytest.mark.django_db
def test_the_periodic_upkeep_requeues_lost_sends_and_leaves_waiting_ones_alone(
    tenant_a, tenant_b, provider, django_capture_on_commit_callbacks
):

    lost = queue_one(tenant_a)
    waiting = queue_one(tenant_b)
    recent = queue_messages(tenant_a, DAY)[-1]  # just queued
    an_hour_ago = timezone.now() - timedelta(hours=1)
    with scopes_disabled():
        Message.objects.filter(pk__in=[lost.pk, waiting.pk]).update(created_at=an_hour_ago)
        # Its task waits for tomorrow's send window: not lost.
        Message.objects.filter(pk=waiting.pk).update(
            next_attempt_at=timezone.now() + timedelta(hours=8)
        )

    with django_capture_on_commit_callbacks(execute=True):
        assert messages_upkeep() == {"requeued": 1, "reconciled": 0}  # eager: sends now
    assert reload(tenant_a, lost).status == MessageStatus.SENT
    assert reload(tenant_b, waiting).status == MessageStatus.QUEUED
    assert reload(tenant_a, recent).status == MessageStatus.QUEUED
    assert provider.call_count == 1
    assert messages_upkeep() == {"requeued": 0, "reconciled": 0}
    assert provider.call_count == 1


# --- Provider errors ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_transient_error_is_retried_and_sends_once(
    tenant_a, provider, frozen_clock, django_capture_on_commit_callbacks
):
    message = queue_one(tenant_a)
    calls = []

    def flaky(self, msg):
        calls.append(msg.ref)
        if len(calls) == 1:
            raise TransportError("503 from the provider", permanent=False)
        return real_send(self, msg)

    provider.side_effect = flaky
    # The first retry's backoff is short: its task is queued at once with an ETA; eager
    # Celery runs it in place, before the backoff is over, and it finds the message not due.
    result = send_message.apply(kwargs={"message_id": message.pk, "tenant_id": tenant_a.pk})
    assert result.get() == MessageStatus.QUEUED
    assert provider.call_count == 1
    frozen_clock.move_to(reload(tenant_a, message).retry_not_before)
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_send_due() == 1
    message = reload(tenant_a, message)
    assert provider.call_count == 2  # one failed attempt, one successful send
    assert message.status == MessageStatus.SENT
    assert message.attempts == 2
    assert message.error == ""
    # The retry is on the timeline (with its reason), then the one send.
    assert status_changes(tenant_a, message) == [("sending", "queued"), ("sending", "sent")]


@pytest.mark.django_db
def test_a_message_that_keeps_failing_ends_failed_after_the_last_retry(
    tenant_a, provider, frozen_clock, django_capture_on_commit_callbacks
):
    message = queue_one(tenant_a)
    provider.side_effect = TransportError("503 from the provider", permanent=False)
    send_message.apply(kwargs={"message_id": message.pk, "tenant_id": tenant_a.pk})
    # Longer backoffs wait in the database, not in a worker: the due tick queues each retry
    # once it is due, and the attempts kept on the message count the retries.
    ticks = 0
    while reload(tenant_a, message).status == MessageStatus.QUEUED and ticks < 10:
        waiting = reload(tenant_a, message)
        assert waiting.next_attempt_at > timezone.now()  # not before its backoff
        assert messages_send_due() == 0
        frozen_clock.move_to(waiting.next_attempt_at)
        with django_capture_on_commit_callbacks(execute=True):
            assert messages_send_due() == 1
        ticks += 1
    message = reload(tenant_a, message)
    assert provider.call_count == 7  # the first attempt and six retries, then no more
    assert message.status == MessageStatus.FAILED
    assert message.error.startswith("Gave up after 6 retries: 503 from the provider")


@pytest.mark.django_db
def test_a_transient_error_puts_the_message_back_in_the_queue(tenant_a, provider):
    message = queue_one(tenant_a)
    provider.side_effect = TransportError("timeout", permanent=False)
    with scope(tenant=tenant_a):
        outcome = message_send(tenant=tenant_a, message_id=message.pk)
    message = reload(tenant_a, message)
    assert outcome.retry and outcome.status == MessageStatus.QUEUED
    assert message.status == MessageStatus.QUEUED and message.error == "timeout"
    assert provider.call_count == 1


@pytest.mark.django_db
def test_a_permanent_error_fails_the_message_without_retry(tenant_a, provider):
    message = queue_one(tenant_a)
    provider.side_effect = TransportError("invalid number", permanent=True, code="21211")
    result = send_message.apply(kwargs={"message_id": message.pk, "tenant_id": tenant_a.pk})
    assert result.get() == MessageStatus.FAILED
    assert (
        send_message.apply(kwargs={"message_id": message.pk, "tenant_id": tenant_a.pk}).get()
        == MessageStatus.FAILED
    )
    message = reload(tenant_a, message)
    assert provider.call_count == 1
    assert message.status == MessageStatus.FAILED
    assert message.error == "invalid number" and message.attempts == 1
    assert status_changes(tenant_a, message) == [("sending", "failed")]


@pytest.mark.django_db
def test_fan_out_turns_many_tenants_messages_into_per_tenant_send_batches(
    tenant_a, tenant_b, provider, monkeypatch
):

    mine = queue_messages(tenant_a, DAY, DAY + timedelta(days=1), DAY + timedelta(days=5))
    theirs = queue_one(tenant_b)
    with scope(tenant=tenant_a):
        assert message_send(tenant=tenant_a, message_id=mine[0].pk).status == MessageStatus.SENT
    monkeypatch.setattr(enqueue, "SEND_BATCH", 1)
    ids = [m.pk for m in (*mine, theirs)]
    assert enqueue.messages_fan_out_batches(message_ids=ids) == [
        (tenant_a.pk, [mine[1].pk]),
        (tenant_a.pk, [mine[2].pk]),
        (tenant_b.pk, [theirs.pk]),
    ]
    assert messages_fan_out(message_ids=ids) == 3  # eager: the batches are sent here
    assert provider.call_count == 4
    assert {reload(tenant_a, m).status for m in mine} == {MessageStatus.SENT}
    assert reload(tenant_b, theirs).status == MessageStatus.SENT
