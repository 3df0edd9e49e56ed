"""Never twice, never wrong: the send path under transport faults, through the real twilio and
sendgrid SDKs and smtplib against loopback fakes that accept a message and then fail to answer
(a read timeout, a reset), refuse the connection, or answer 429/5xx with Retry-After.

A send whose outcome is ambiguous goes to `unknown` and is never retried blindly;
reconciliation asks the provider account the message was claimed with (Twilio's message list,
SendGrid's events), sends again only what the provider confirms it never received — once — and
hands the rest to a person."""

import socket
import threading
from datetime import UTC, date, datetime, timedelta
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from collections_app.engine import ladder_evaluate
from collections_app.models import FollowUpTask, Invoice
from messaging import hooks
from messaging.models import Message, MessageStatus
from messaging.providers import twilio as twilio_module
from messaging.sending import message_send, messages_send
from messaging.tasks import MAX_ATTEMPTS, send_message, send_messages
from messaging.upkeep import (
    ABSENT_AGAIN_NOTE,
    ESCALATE_AFTER_SECONDS,
    FOUND_NOTE,
    NEEDS_PERSON_NOTE,
    RESENT_NOTE,
    messages_reconcile_stuck,
)
from tests.collections_app.factories import InvoiceFactory
from tests.fakes import Answer, TwilioLedger
from tests.messaging.factories import ProviderAccountFactory

DAY = date(2026, 12, 2)
TWILIO = {"account_sid": "AC" + "1" * 32, "auth_token": "secret-token"}
TIMEOUT = 0.5  # the clients' timeout here; a "late" answer comes after it


@pytest.fixture(autouse=True)
def _quick(settings):
    settings.PROVIDER_TIMEOUT_SECONDS = TIMEOUT
    settings.MESSAGING_RATE_LIMITS = False


@pytest.fixture
def ledger(twilio):
    """The Twilio fake with a memory: what it accepted can be listed."""
    twilio.answer = TwilioLedger()
    return twilio.answer


@pytest.fixture
def moves():
    """Every status move messaging announces: (message id, from, to, note)."""
    heard = []

    def listen(sender, changes, **kwargs):
        heard.extend((m.pk, old, new, m.error) for m, old, new in changes)

    hooks.message_status_changed.connect(listen, weak=False, dispatch_uid="test-fault-moves")
    yield heard
    hooks.message_status_changed.disconnect(dispatch_uid="test-fault-moves")


def twilio_account(tenant, credentials=TWILIO):
    return ProviderAccountFactory(
        tenant=tenant, provider="twilio_sms", credentials=credentials, sender="+5511900000000"
    )


def queue_sms(tenant, *, phone: str = "+5511987654321", k: int = 0) -> Message:
    """One SMS reminder due on DAY, queued and not yet sent."""
    InvoiceFactory(
        tenant=tenant,
        due_date=DAY,
        amount="1234.50",
        customer={
            "external_id": f"SMS-{k}",
            "name": f"Maria {k}",
            "phone": phone,
            "preferred_channels": ["sms"],
        },
    )
    with mock.patch.object(send_messages, "apply_async"), scope(tenant=tenant):
        ladder_evaluate(tenant=tenant, today=DAY)
        return Message.objects.filter(status=MessageStatus.QUEUED).order_by("-id").first()


def queue_email(tenant) -> Message:
    ProviderAccountFactory(
        tenant=tenant,
        provider="sendgrid",
        credentials={"api_key": "SG.test", "webhook_public_key": "key"},
        sender="cobranca@escola.com.br",
    )
    InvoiceFactory(
        tenant=tenant,
        due_date=DAY + timedelta(days=5),  # the default ladder's e-mail step: D-5
        customer={
            "external_id": "MAIL",
            "name": "Maria",
            "email": "maria@example.com",
            "preferred_channels": ["email"],
        },
    )
    with mock.patch.object(send_messages, "apply_async"), scope(tenant=tenant):
        ladder_evaluate(tenant=tenant, today=DAY)
        return Message.objects.get(channel="email", status=MessageStatus.QUEUED)


def reload(message: Message) -> Message:
    with scopes_disabled():
        return Message.objects.get(pk=message.pk)


def claimed_ago(message: Message, seconds: int) -> None:
    """Move the message's claim back in time, as if its send were that old."""
    with scopes_disabled():
        Message.objects.filter(pk=message.pk).update(
            sending_at=timezone.now() - timedelta(seconds=seconds)
        )


def creates(fake) -> list:
    return [r for r in fake.requests if r.method == "POST"]


def lists(fake) -> list:
    return [r for r in fake.requests if r.method == "GET"]


# --- 1. Ambiguous outcomes are never retried blindly ----------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(Answer(delay=TIMEOUT * 3), id="accepted-then-answers-too-late"),
        pytest.param(Answer(fault="reset"), id="accepted-then-reset"),
        pytest.param(Answer(fault="close"), id="accepted-then-closed"),
        pytest.param(Answer(502, b"<html>Bad gateway</html>"), id="502-without-twilio-error"),
    ],
)
def test_twilio_accepting_without_answering_makes_the_message_unknown_never_queued(
    tenant_a, ledger, twilio, fault, moves
):
    twilio_account(tenant_a)
    message = queue_sms(tenant_a)
    ledger.faults.append(fault)
    result = send_message.apply(kwargs={"message_id": message.pk, "tenant_id": tenant_a.pk})
    assert result.get() == MessageStatus.UNKNOWN
    # The task is delivered again, and the day's batch runs again: still one provider call.
    assert send_message.apply(
        kwargs={"message_id": message.pk, "tenant_id": tenant_a.pk}
    ).get() == (MessageStatus.UNKNOWN)
    with scope(tenant=tenant_a):
        assert messages_send(tenant=tenant_a, message_ids=[message.pk])[message.pk].status == (
            MessageStatus.UNKNOWN
        )
    message = reload(message)
    assert len(creates(twilio)) == 1 and len(ledger.messages) == 1
    assert message.status == MessageStatus.UNKNOWN and message.attempts == 1
    # The text the provider got is kept, and why the outcome is unknown.
    assert message.body == creates(twilio)[0].form()["Body"] and "R$ 1.234,50" in message.body
    assert message.error.startswith("Outcome unknown: Twilio")
    assert [(old, new) for _pk, old, new, _note in moves] == [
        ("queued", "sending"),
        ("sending", "unknown"),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(Answer(202, None, {"X-Message-Id": "sg-late"}, delay=TIMEOUT * 3), id="late"),
        pytest.param(Answer(202, None, {"X-Message-Id": "sg-reset"}, fault="reset"), id="reset"),
    ],
)
def test_sendgrid_accepting_without_answering_makes_the_message_unknown(tenant_a, sendgrid, fault):
    message = queue_email(tenant_a)
    sendgrid.script.append(fault)
    with scope(tenant=tenant_a):
        assert message_send(tenant=tenant_a, message_id=message.pk).status == "unknown"
        assert message_send(tenant=tenant_a, message_id=message.pk).status == "unknown"
    message = reload(message)
    [request] = sendgrid.requests
    # The request carries the reference SendGrid's events give back.
    assert request.json()["custom_args"] == {"regua_ref": message.ref}
    assert message.status == MessageStatus.UNKNOWN and message.error.startswith(
        "Outcome unknown: SendGrid did not answer"
    )
    assert message.subject and message.body


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db
def test_a_refused_connection_is_surely_not_sent_and_is_retried(tenant_a, settings):
    settings.TWILIO_API_BASE = f"http://127.0.0.1:{free_port()}"  # nobody listens
    twilio_account(tenant_a)
    message = queue_sms(tenant_a)
    with scope(tenant=tenant_a):
        outcome = message_send(tenant=tenant_a, message_id=message.pk)
    assert outcome.status == MessageStatus.QUEUED and outcome.retry
    assert reload(message).error.startswith("Twilio unreachable")


@pytest.mark.django_db
@pytest.mark.parametrize("base", ["dns", "tls"])
def test_twilio_failing_before_the_request_is_written_is_retried(
    tenant_a, ledger, twilio, settings, base
):
    # An unresolvable name (.invalid never resolves), or TLS spoken to a server that answers
    # plain HTTP: the handshake fails before any request is written.
    settings.TWILIO_API_BASE = {
        "dns": "http://api.twilio.invalid",
        "tls": twilio.url.replace("http://", "https://"),
    }[base]
    twilio_account(tenant_a)
    message = queue_sms(tenant_a)
    with scope(tenant=tenant_a):
        outcome = message_send(tenant=tenant_a, message_id=message.pk)
    assert outcome.status == MessageStatus.QUEUED and outcome.retry
    assert ledger.messages == []
    assert reload(message).error.startswith("Twilio unreachable")


@pytest.mark.django_db
def test_sendgrid_refusing_the_connection_is_retried(tenant_a, settings):
    message = queue_email(tenant_a)
    settings.SENDGRID_API_HOST = f"http://127.0.0.1:{free_port()}"
    with scope(tenant=tenant_a):
        outcome = message_send(tenant=tenant_a, message_id=message.pk)
    assert outcome.status == MessageStatus.QUEUED and outcome.retry
    assert reload(message).error.startswith("SendGrid unreachable")


def test_requests_connect_and_read_timeouts_are_told_apart():
    """The two timeouts requests raises (the Twilio SDK's client), as it builds them."""
    import requests
    import urllib3.exceptions

    from messaging.providers.base import AMBIGUOUS, NOT_SENT, transport_failure_kind

    pool = urllib3.HTTPConnectionPool("api.twilio.com")
    connect = requests.exceptions.ConnectTimeout(
        urllib3.exceptions.MaxRetryError(
            pool, "/", urllib3.exceptions.ConnectTimeoutError(pool, "timed out")
        )
    )
    read = requests.exceptions.ReadTimeout(
        urllib3.exceptions.ReadTimeoutError(pool, "/", "Read timed out.")
    )
    reset = requests.exceptions.ConnectionError(
        urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104))
    )
    assert transport_failure_kind(connect) == NOT_SENT
    assert transport_failure_kind(read) == AMBIGUOUS
    assert transport_failure_kind(reset) == AMBIGUOUS
    assert transport_failure_kind(RuntimeError("unexpected")) == AMBIGUOUS


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("answer", "retry_after"),
    [
        (Answer(429, {"code": 20429, "message": "Too Many Requests"}, {"Retry-After": "120"}), 120),
        (Answer(503, {"code": 20503, "message": "Unavailable"}, {"Retry-After": "300"}), 300),
        (Answer(503, b"", {"Retry-After": "45"}), 45),
        (Answer(500, {"code": 20500, "message": "Internal error, not created"}), None),
    ],
)
def test_twilio_refusals_are_retried_after_the_providers_retry_after(
    tenant_a, twilio, answer, retry_after
):
    twilio_account(tenant_a)
    message = queue_sms(tenant_a)
    twilio.script.append(answer)
    with scope(tenant=tenant_a):
        outcome = message_send(tenant=tenant_a, message_id=message.pk)
    assert outcome.status == MessageStatus.QUEUED and outcome.retry
    assert outcome.retry_after == retry_after


@pytest.mark.django_db
def test_sendgrid_429_is_retried_after_its_retry_after(tenant_a, sendgrid):
    message = queue_email(tenant_a)
    sendgrid.script.append(
        Answer(429, {"errors": [{"message": "too many"}]}, {"Retry-After": "600"})
    )
    with scope(tenant=tenant_a):
        outcome = message_send(tenant=tenant_a, message_id=message.pk)
    assert outcome.retry and outcome.retry_after == 600


# --- 5. Retry-After and the number of attempts ----------------------------------------------


@pytest.mark.django_db
def test_the_retry_is_not_scheduled_before_retry_after(tenant_a, twilio):
    twilio_account(tenant_a)
    message = queue_sms(tenant_a)
    twilio.script.append(
        Answer(429, {"code": 20429, "message": "Too Many Requests"}, {"Retry-After": "3000"})
    )
    with mock.patch.object(send_messages, "apply_async") as held:
        send_message.apply(kwargs={"message_id": message.pk, "tenant_id": tenant_a.pk}, throw=True)
    message = reload(message)
    assert message.status == MessageStatus.QUEUED
    # The backoff alone would be ~30 s: the retry waits in the database for Retry-After, and no
    # worker holds a task for it (the due tick queues it then).
    assert message.next_attempt_at >= timezone.now() + timedelta(seconds=2990)
    assert held.call_count == 0


@pytest.mark.django_db
def test_a_duplicate_task_does_not_send_a_retry_before_retry_after(tenant_a, twilio, frozen_clock):
    """A redelivered or duplicate task that arrives while a retry waits for the provider's
    Retry-After finds the message not due: no call; once the wait is over, one call."""
    twilio_account(tenant_a)
    message = queue_sms(tenant_a)
    twilio.script.append(
        Answer(429, {"code": 20429, "message": "Too Many Requests"}, {"Retry-After": "600"})
    )
    with mock.patch.object(send_messages, "apply_async"):
        send_message.apply(kwargs={"message_id": message.pk, "tenant_id": tenant_a.pk}, throw=True)
    not_before = reload(message).retry_not_before
    assert not_before >= timezone.now() + timedelta(seconds=590)
    send_messages.apply(kwargs={"message_ids": [message.pk], "tenant_id": tenant_a.pk})
    with scope(tenant=tenant_a):
        outcome = message_send(tenant=tenant_a, message_id=message.pk)
    assert len(twilio.requests) == 1
    assert outcome.status == "not-due" and reload(message).status == MessageStatus.QUEUED
    frozen_clock.shift(timedelta(seconds=(not_before - timezone.now()).total_seconds() + 1))
    with scope(tenant=tenant_a):
        assert message_send(tenant=tenant_a, message_id=message.pk).status == MessageStatus.SENT
    assert len(twilio.requests) == 2


@pytest.mark.django_db
def test_a_batch_message_that_keeps_failing_is_tried_exactly_max_attempts_times(
    tenant_a, twilio, frozen_clock
):
    twilio_account(tenant_a)
    message = queue_sms(tenant_a)
    twilio.answer = Answer(503, {"code": 20503, "message": "Unavailable"})
    # Each retry waits in the database; here the due tick's work is done by running the batch
    # again, more times than the attempts allowed.
    waits = []
    for _ in range(MAX_ATTEMPTS + 3):
        send_messages.apply(kwargs={"message_ids": [message.pk], "tenant_id": tenant_a.pk})
        message = reload(message)
        if message.status != MessageStatus.QUEUED:
            break
        waits.append(message.next_attempt_at)
        # The backoff passes (the due tick would queue it then).
        frozen_clock.shift(message.retry_not_before - timezone.now() + timedelta(seconds=1))
    assert MAX_ATTEMPTS == 7
    assert len(twilio.requests) == MAX_ATTEMPTS
    assert message.attempts == MAX_ATTEMPTS
    assert message.status == MessageStatus.FAILED
    assert message.error.startswith("Gave up after 6 retries: Twilio 20503")
    assert len(waits) == MAX_ATTEMPTS - 1 and waits == sorted(waits)  # a growing backoff
    send_messages.apply(kwargs={"message_ids": [message.pk], "tenant_id": tenant_a.pk})
    assert len(twilio.requests) == MAX_ATTEMPTS  # a failed message is never tried again


# --- 2. Reconciliation asks the provider ----------------------------------------------------


@pytest.mark.django_db
def test_an_unknown_twilio_send_found_in_the_listing_becomes_sent_with_twilios_id(
    tenant_a, ledger, twilio, moves, monkeypatch
):
    monkeypatch.setattr(twilio_module, "LIST_PAGE_SIZE", 2)
    twilio_account(tenant_a)
    message = queue_sms(tenant_a)
    ledger.faults.append(Answer(fault="reset"))
    with scope(tenant=tenant_a):
        message_send(tenant=tenant_a, message_id=message.pk)
    # Other messages to the same number since: Twilio lists the newest first, two per page.
    for n in range(5):
        ledger.add(
            to=message.recipient,
            body=f"Outra mensagem {n}",
            account=TWILIO["account_sid"],
            sent=datetime.now(UTC) + timedelta(seconds=n + 1),
        )
    accepted = ledger.messages[0]
    claimed_ago(message, 60)
    with scope(tenant=tenant_a):
        assert messages_reconcile_stuck(tenant=tenant_a) == 1
        assert messages_reconcile_stuck(tenant=tenant_a) == 0
    message = reload(message)
    assert message.status == MessageStatus.SENT
    assert message.provider_message_id == accepted["sid"]
    assert message.error == FOUND_NOTE and message.sent_at == message.sending_at
    assert len(creates(twilio)) == 1  # asked, never sent again
    pages = lists(twilio)
    assert len(pages) == 3  # six messages, two per page: the match is on the last page
    first = pages[0]
    assert first.path.startswith(f"/2010-04-01/Accounts/{TWILIO['account_sid']}/Messages.json?")
    assert "To=%2B5511987654321" in first.path and "DateSent%3E=" in first.path
    assert moves[-1][1:] == ("unknown", "sent", FOUND_NOTE)


@pytest.mark.django_db
def test_a_message_twilio_never_received_is_sent_again_once_then_handed_to_a_person(
    tenant_a, ledger, twilio, settings
):
    twilio_account(tenant_a)
    message = queue_sms(tenant_a)
    # The request never reached Twilio's records (here: the worker died before the call).
    with (
        mock.patch.object(twilio_module.TwilioSMSProvider, "send", side_effect=SystemExit),
        scope(tenant=tenant_a),
        pytest.raises(SystemExit),
    ):
        message_send(tenant=tenant_a, message_id=message.pk)
    assert reload(message).status == MessageStatus.SENDING
    with scope(tenant=tenant_a):
        # Stuck, but within Twilio's listing delay: not yet "absent".
        claimed_ago(message, 60)
        assert messages_reconcile_stuck(tenant=tenant_a, older_than_seconds=30) == 1
        assert reload(message).status == MessageStatus.UNKNOWN
        assert reload(message).resent is False
        claimed_ago(message, settings.TWILIO_LISTING_DELAY_SECONDS + 1)
        with mock.patch("messaging.upkeep.messages_enqueue") as enqueue:
            assert messages_reconcile_stuck(tenant=tenant_a) == 1
        assert enqueue.call_args.kwargs["message_ids"] == [message.pk]
        requeued = reload(message)
        assert requeued.status == MessageStatus.QUEUED and requeued.resent
        assert requeued.error == RESENT_NOTE
        # The resend is lost in its turn (accepted by nobody): absent a second time.
        with (
            mock.patch.object(twilio_module.TwilioSMSProvider, "send", side_effect=SystemExit),
            pytest.raises(SystemExit),
        ):
            message_send(tenant=tenant_a, message_id=message.pk)
        claimed_ago(message, settings.TWILIO_LISTING_DELAY_SECONDS + 1)
        with mock.patch("messaging.upkeep.messages_enqueue") as enqueue:
            assert messages_reconcile_stuck(tenant=tenant_a, older_than_seconds=0) == 1
        enqueue.assert_not_called()
        tasks = list(FollowUpTask.objects.filter(origin="message_check"))
    message = reload(message)
    assert message.status == MessageStatus.UNKNOWN and message.escalated_at is not None
    assert message.error == ABSENT_AGAIN_NOTE
    assert len(tasks) == 1
    assert creates(twilio) == []  # never sent by reconciliation


@pytest.mark.django_db
def test_when_twilio_cannot_tell_the_message_stays_unknown_and_a_person_gets_a_task(
    tenant_a, ledger, twilio
):
    twilio_account(tenant_a)
    message = queue_sms(tenant_a)
    ledger.faults.append(Answer(delay=TIMEOUT * 3))
    with scope(tenant=tenant_a):
        message_send(tenant=tenant_a, message_id=message.pk)
    ledger.list_answer = Answer(500, {"code": 20500, "message": "Internal error"})
    with scope(tenant=tenant_a):
        claimed_ago(message, 600)
        assert messages_reconcile_stuck(tenant=tenant_a) == 0  # asked again next tick
        assert not FollowUpTask.objects.filter(origin="message_check").exists()
        claimed_ago(message, ESCALATE_AFTER_SECONDS + 1)
        assert messages_reconcile_stuck(tenant=tenant_a) == 1
        assert messages_reconcile_stuck(tenant=tenant_a) == 0  # told once
        [task] = FollowUpTask.objects.filter(origin="message_check")
        invoice = Invoice.objects.get(message_links__message=message)
    message = reload(message)
    assert message.status == MessageStatus.UNKNOWN and message.error == NEEDS_PERSON_NOTE
    assert task.invoice_id == invoice.pk and message.recipient in task.title
    assert len(creates(twilio)) == 1  # never resent by itself


# --- 3. Interrupted sends: the account that was used ----------------------------------------


@pytest.mark.django_db
def test_an_interrupted_send_is_looked_up_at_the_account_it_was_claimed_with(tenant_a, ledger):
    first = twilio_account(tenant_a)
    message = queue_sms(tenant_a)

    def accepted_then_crash(self, outgoing):
        original_send(self, outgoing)
        raise SystemExit  # the worker dies before recording Twilio's answer

    original_send = twilio_module.TwilioSMSProvider.send
    with (
        mock.patch.object(twilio_module.TwilioSMSProvider, "send", accepted_then_crash),
        scope(tenant=tenant_a),
        pytest.raises(SystemExit),
    ):
        message_send(tenant=tenant_a, message_id=message.pk)
    stuck = reload(message)
    assert stuck.status == MessageStatus.SENDING and stuck.provider_account_id == first.pk
    # The body the provider got was written before the call.
    assert "R$ 1.234,50" in stuck.body
    # The tenant switches to another Twilio account meanwhile.
    with scope(tenant=tenant_a):
        first.active = False
        first.save()
        twilio_account(tenant_a, {"account_sid": "AC" + "9" * 32, "auth_token": "other"})
        claimed_ago(message, 3600)
        assert messages_reconcile_stuck(tenant=tenant_a) == 1
    message = reload(message)
    assert message.status == MessageStatus.SENT
    assert message.provider_message_id == ledger.messages[0]["sid"]


# --- SMTP: no answer after the whole message was written -------------------------------------


class _SlowAfterData:
    """An SMTP server that takes the whole message and then never answers in time."""

    def __init__(self, delay: float):
        self.delay = delay
        self.received = 0

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        self.received += 1
        await asyncio.sleep(self.delay)
        return "250 Message accepted"


def test_an_smtp_timeout_after_the_message_was_written_is_sent_with_a_note():
    from aiosmtpd.controller import Controller

    from messaging.providers.base import OutgoingMessage
    from messaging.providers.smtp import SMTPProvider

    handler = _SlowAfterData(TIMEOUT * 4)
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        result = SMTPProvider(
            sender="cobranca@escola.com.br",
            credentials={"host": "127.0.0.1", "port": controller.port, "security": "none"},
        ).send(
            OutgoingMessage(
                ref="ref-smtp", channel="email", recipient="a@example.com", subject="s", body="b"
            )
        )
    finally:
        controller.stop()
    assert handler.received == 1
    assert "ref-smtp" in result.provider_message_id
    assert result.note.startswith("Sent; the SMTP server did not confirm it")


# --- SendGrid: events settle an unknown send ------------------------------------------------


@pytest.mark.django_db
def test_sendgrid_events_settle_an_unknown_email_and_their_silence_never_resends_it(
    tenant_a, sendgrid
):
    from messaging.upkeep import message_found

    found_one = queue_email(tenant_a)
    sendgrid.script.append(Answer(202, None, {"X-Message-Id": "sg-1"}, fault="reset"))
    with scope(tenant=tenant_a):
        message_send(tenant=tenant_a, message_id=found_one.pk)
        assert reload(found_one).status == MessageStatus.UNKNOWN
        # A "processed" event carrying the custom argument (messaging.webhooks calls this).
        assert message_found(tenant=tenant_a, ref=found_one.ref, provider_message_id="sg-1")
    found_one = reload(found_one)
    assert found_one.status == MessageStatus.SENT and found_one.provider_message_id == "sg-1"

    # The same e-mail had its answer cut off and no event ever came: SendGrid has it (it
    # accepted the request) and retries its events for a day while the webhook is down, so
    # no silence means "never received". It is never sent again; a person checks.
    with scope(tenant=tenant_a):
        Message.objects.filter(pk=found_one.pk).update(
            status=MessageStatus.UNKNOWN, provider_message_id="", sent_at=None
        )
        silent = found_one
        claimed_ago(silent, 60)
        assert messages_reconcile_stuck(tenant=tenant_a) == 0
        claimed_ago(silent, ESCALATE_AFTER_SECONDS - 60)  # long past any event's usual delay
        assert messages_reconcile_stuck(tenant=tenant_a) == 0
        assert reload(silent).status == MessageStatus.UNKNOWN
        claimed_ago(silent, ESCALATE_AFTER_SECONDS + 1)
        assert messages_reconcile_stuck(tenant=tenant_a) == 1
        task = FollowUpTask.objects.get(origin="message_check")
    silent = reload(silent)
    assert silent.status == MessageStatus.UNKNOWN and not silent.resent
    assert silent.escalated_at is not None and silent.error == NEEDS_PERSON_NOTE
    assert silent.recipient in task.title
    assert len(sendgrid.requests) == 1
    # An event arriving late (SendGrid's retry) still settles it.
    with scope(tenant=tenant_a):
        assert message_found(tenant=tenant_a, ref=silent.ref, provider_message_id="sg-1")
    assert reload(silent).status == MessageStatus.SENT


# --- 4. The stop check is part of the claim -------------------------------------------------


def _commit_elsewhere(work) -> None:
    """Run `work` in another thread, on its own connection, committed before returning."""
    errors = []

    def run():
        try:
            with scopes_disabled():
                work()
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert not errors, errors


def _paid(invoice_id):
    return lambda: Invoice.objects.filter(pk=invoice_id).update(status="paid")


def _opted_out(invoice_id):
    def work():
        customer = Invoice.objects.get(pk=invoice_id).customer
        customer.opted_out_channels = ["sms"]
        customer.save(update_fields=["opted_out_channels"])

    return work


def _disputed(invoice_id):
    return lambda: Invoice.objects.filter(pk=invoice_id).update(disputed=True)


def _record_payment(invoice_id):
    def work():
        from collections_app.payments.services import invoice_record_payment

        invoice = Invoice.objects.get(pk=invoice_id)
        with scope(tenant=invoice.tenant):
            invoice_record_payment(
                tenant=invoice.tenant, invoice=invoice, amount=invoice.amount, thank_you=False
            )

    return work


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("stop", "reason"),
    [
        (_paid, "invoice_paid"),
        (_opted_out, "opted_out"),
        (_disputed, "disputed"),
        (_record_payment, "invoice_paid"),
    ],
)
def test_a_stop_committed_between_the_pre_check_and_the_claim_stops_the_message(
    twilio, stop, reason
):
    from tests.tenants.factories import TenantFactory

    tenant = TenantFactory()
    twilio_account(tenant)
    message = queue_sms(tenant)
    with scopes_disabled():
        invoice_id = Invoice.objects.get(message_links__message=message).pk

    from messaging import sending

    real_claim = sending.messages_claim

    def claim_after_the_stop(*args, **kwargs):
        _commit_elsewhere(stop(invoice_id))  # the pre-check has already passed
        return real_claim(*args, **kwargs)

    with (
        mock.patch.object(sending, "messages_claim", side_effect=claim_after_the_stop),
        scope(tenant=tenant),
    ):
        outcome = message_send(tenant=tenant, message_id=message.pk)
    message = reload(message)
    assert twilio.requests == []
    assert outcome.status == MessageStatus.CANCELLED
    assert message.status == MessageStatus.CANCELLED and message.error == reason


# --- 6. The result is recorded even if the database connection died -------------------------


@pytest.mark.django_db(transaction=True)
def test_a_delivered_send_is_recorded_after_the_database_connection_was_killed(twilio, moves):
    """PostgreSQL: the worker's backend is terminated (pg_terminate_backend) between the
    provider's answer and the write. SQLite has no server to lose: its OperationalError of the
    kind ("database is locked") is raised once by the first write instead."""
    from messaging import sending
    from tests.tenants.factories import TenantFactory

    tenant = TenantFactory()
    twilio_account(tenant)
    message = queue_sms(tenant)
    original_send = twilio_module.TwilioSMSProvider.send
    failures = []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            [pid] = cursor.fetchone()

        def send_then_lose_the_database(self, outgoing):
            result = original_send(self, outgoing)
            _commit_elsewhere(lambda: _terminate(pid))
            return result

        transition = sending.messages_transition
    else:
        from django.db import OperationalError

        send_then_lose_the_database = original_send
        real_transition = sending.messages_transition

        def transition(rows, **kwargs):
            if rows and not failures:
                failures.append(kwargs)
                raise OperationalError("database is locked")
            return real_transition(rows, **kwargs)

    with (
        mock.patch.object(twilio_module.TwilioSMSProvider, "send", send_then_lose_the_database),
        mock.patch.object(sending, "messages_transition", transition),
        scope(tenant=tenant),
    ):
        outcome = message_send(tenant=tenant, message_id=message.pk)
    message = reload(message)
    assert outcome.status == MessageStatus.SENT
    assert message.status == MessageStatus.SENT and message.provider_message_id.startswith("SM")
    assert len(twilio.requests) == 1
    assert [(old, new) for _pk, old, new, _note in moves][-1] == ("sending", "sent")


def _terminate(pid: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.mark.django_db
def test_a_send_whose_account_was_deleted_is_never_taken_for_absent(tenant_a, ledger, twilio):
    account = twilio_account(tenant_a)
    message = queue_sms(tenant_a)
    with (
        mock.patch.object(twilio_module.TwilioSMSProvider, "send", side_effect=SystemExit),
        scope(tenant=tenant_a),
        pytest.raises(SystemExit),
    ):
        message_send(tenant=tenant_a, message_id=message.pk)
    assert reload(message).provider_account_key.startswith("twilio_sms:")
    with scope(tenant=tenant_a):
        account.delete()  # the platform's account is all that is left to ask
        claimed_ago(message, 3600)
        with mock.patch("messaging.upkeep.messages_enqueue") as enqueue:
            assert messages_reconcile_stuck(tenant=tenant_a) == 1
        enqueue.assert_not_called()
        assert FollowUpTask.objects.filter(origin="message_check").count() == 1
    message = reload(message)
    assert message.status == MessageStatus.UNKNOWN and message.error == NEEDS_PERSON_NOTE
    assert twilio.requests == []


@pytest.mark.django_db
def test_a_listed_message_already_recorded_on_another_message_is_not_taken_for_this_one(
    tenant_a, ledger, twilio, settings
):
    from messaging.models import Template

    twilio_account(tenant_a)
    with scopes_disabled():
        # A text without the payment link (so without the reference): matched by its body.
        Template.objects.filter(tenant=tenant_a, channel="sms").update(
            body="Lembrete: sua fatura vence hoje."
        )
    for k in range(2):
        InvoiceFactory(
            tenant=tenant_a,
            due_date=DAY,
            external_id=f"SAME-{k}",
            customer={
                "external_id": "SAME",
                "name": "Maria",
                "phone": "+5511987654321",
                "preferred_channels": ["sms"],
            },
        )
    with mock.patch.object(send_messages, "apply_async"), scope(tenant=tenant_a):
        ladder_evaluate(tenant=tenant_a, today=DAY)
        first, second = Message.objects.filter(channel="sms").order_by("id")
        assert message_send(tenant=tenant_a, message_id=first.pk).status == "sent"
        # The second, with the very same text, never reaches Twilio (its worker dies).
        with (
            mock.patch.object(twilio_module.TwilioSMSProvider, "send", side_effect=SystemExit),
            pytest.raises(SystemExit),
        ):
            message_send(tenant=tenant_a, message_id=second.pk)
        claimed_ago(second, settings.TWILIO_LISTING_DELAY_SECONDS + 1)
        with mock.patch("messaging.upkeep.messages_enqueue"):
            assert messages_reconcile_stuck(tenant=tenant_a, older_than_seconds=0) == 1
    assert reload(first).body == reload(second).body
    # Twilio lists only the first one's message: it is not the second's.
    second = reload(second)
    assert second.status == MessageStatus.QUEUED and second.resent
    assert second.provider_message_id == ""
