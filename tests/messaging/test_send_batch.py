"""A send batch: its provider calls in flight together, its results recorded together, each
message's outcome its own — through the real twilio SDK against the loopback fake."""

from datetime import date
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scope

from collections_app.engine import ladder_evaluate
from collections_app.models import Customer, Interaction
from messaging import ratelimit
from messaging.models import Message, MessageStatus
from messaging.providers.console import ConsoleProvider
from messaging.sending import messages_send
from messaging.tasks import send_messages
from tests.collections_app.factories import InvoiceFactory
from tests.fakes import Answer, twilio_answer
from tests.messaging.factories import ProviderAccountFactory

pytestmark = pytest.mark.django_db

DAY = date(2026, 12, 2)
TWILIO = {"account_sid": "AC" + "1" * 32, "auth_token": "secret-token"}


def queue_sms(tenant, count: int, *, first: int = 0) -> list[Message]:
    """`count` SMS reminders due on DAY, one per customer, queued and not yet sent."""
    for k in range(first, first + count):
        InvoiceFactory(
            tenant=tenant,
            due_date=DAY,
            amount=f"{100 + k}.00",
            customer={
                "external_id": f"SMS-{k}",
                "name": f"Cliente {k}",
                "phone": f"+55119876{k:05d}",
                "preferred_channels": ["sms"],
            },
        )
    with mock.patch.object(send_messages, "apply_async"), scope(tenant=tenant):
        ladder_evaluate(tenant=tenant, today=DAY)
        return list(Message.objects.filter(status=MessageStatus.QUEUED).order_by("id"))[-count:]


@pytest.fixture
def unlimited(settings):
    settings.MESSAGING_RATE_LIMITS = False


def test_a_batch_has_its_provider_calls_in_flight_together(tenant_a, twilio, unlimited):
    ProviderAccountFactory(
        tenant=tenant_a, provider="twilio_sms", credentials=TWILIO, sender="+5511900000000"
    )
    messages = queue_sms(tenant_a, 12)
    twilio.latency = 0.2
    ids = [m.pk for m in messages]
    counts = send_messages.apply(kwargs={"message_ids": ids, "tenant_id": tenant_a.pk}).get()
    assert counts == {MessageStatus.SENT: 12}
    assert len(twilio.requests) == 12
    assert twilio.max_in_flight > 1  # not one after the other
    with scope(tenant=tenant_a):
        sent = list(Message.objects.filter(pk__in=ids).order_by("id"))
        timeline = Interaction.objects.filter(kind="message_status", message_id__in=ids)
        assert sorted(timeline.values_list("message_id", flat=True)) == ids
    by_number = {r.form()["To"]: r.form()["Body"] for r in twilio.requests}
    for message in sent:
        assert message.status == MessageStatus.SENT and message.attempts == 1
        assert message.provider == "twilio_sms" and message.provider_message_id.startswith("SM")
        # Each message went to its own number with its own amount, and was recorded as sent.
        assert by_number[message.recipient] == message.body
        assert message.sending_at <= message.sent_at
    assert len({m.provider_message_id for m in sent}) == 12


def test_a_larger_batch_costs_no_more_queries(tenant_a, twilio, unlimited):
    ProviderAccountFactory(
        tenant=tenant_a, provider="twilio_sms", credentials=TWILIO, sender="+5511900000000"
    )
    small = queue_sms(tenant_a, 2)
    large = queue_sms(tenant_a, 10, first=2)
    queries = []
    with scope(tenant=tenant_a):
        for batch in (small, large):
            with CaptureQueriesContext(connection) as captured:
                outcomes = messages_send(tenant=tenant_a, message_ids=[m.pk for m in batch])
            assert {o.status for o in outcomes.values()} == {MessageStatus.SENT}
            queries.append(len(captured))
    assert queries[0] == queries[1]


def test_each_message_of_a_batch_gets_its_own_outcome(tenant_a, twilio, unlimited):
    ProviderAccountFactory(
        tenant=tenant_a, provider="twilio_sms", credentials=TWILIO, sender="+5511900000000"
    )
    invalid, busy, fine = queue_sms(tenant_a, 3)

    def answer(request):
        to = request.form()["To"]
        if to == invalid.recipient:
            return Answer(400, {"code": 21211, "message": "Invalid 'To' Phone Number"})
        if to == busy.recipient:
            return Answer(503, {"code": 20500, "message": "Service unavailable"})
        return twilio_answer(request)

    twilio.answer = answer
    with scope(tenant=tenant_a):
        outcomes = messages_send(tenant=tenant_a, message_ids=[invalid.pk, busy.pk, fine.pk])
        for message in (invalid, busy, fine):
            message.refresh_from_db()
        flagged = Customer.objects.get(phone=invalid.recipient)
    assert outcomes[invalid.pk].status == MessageStatus.FAILED and not outcomes[invalid.pk].retry
    assert outcomes[busy.pk].status == MessageStatus.QUEUED and outcomes[busy.pk].retry
    assert outcomes[fine.pk].status == MessageStatus.SENT
    assert invalid.status == MessageStatus.FAILED
    assert invalid.error == "Twilio 21211: invalid 'To' phone number"
    assert flagged.invalid_channels == ["sms"]
    assert busy.status == MessageStatus.QUEUED and busy.error.startswith("Twilio 20500")
    assert fine.status == MessageStatus.SENT and fine.error == ""


def test_a_crash_in_one_call_records_the_others_and_leaves_it_sending(tenant_a, unlimited):
    messages = queue_sms(tenant_a, 3)
    doomed = messages[1]
    real_send = ConsoleProvider.send

    def send(self, outgoing):
        if outgoing.ref == doomed.ref:
            raise SystemExit("worker killed mid-call")
        return real_send(self, outgoing)

    with mock.patch.object(ConsoleProvider, "send", autospec=True, side_effect=send):
        with scope(tenant=tenant_a), pytest.raises(SystemExit):
            messages_send(tenant=tenant_a, message_ids=[m.pk for m in messages])
    with scope(tenant=tenant_a):
        statuses = dict(
            Message.objects.filter(pk__in=[m.pk for m in messages]).values_list("pk", "status")
        )
    assert statuses == {
        messages[0].pk: MessageStatus.SENT,
        doomed.pk: MessageStatus.SENDING,  # for reconciliation, never a blind resend
        messages[2].pk: MessageStatus.SENT,
    }


def test_a_batch_over_the_rate_limit_sends_what_the_limit_allows(tenant_a, twilio, settings):
    settings.MESSAGING_RATE_LIMITS = True
    settings.REDIS_URL = ""  # the in-process buckets
    settings.MESSAGING_TENANT_RATE = 3
    ratelimit._local.clear()  # full buckets
    ProviderAccountFactory(
        tenant=tenant_a, provider="twilio_sms", credentials=TWILIO, sender="+5511900000000"
    )
    messages = queue_sms(tenant_a, 5)
    with scope(tenant=tenant_a):
        outcomes = messages_send(tenant=tenant_a, message_ids=[m.pk for m in messages])
        statuses = list(
            Message.objects.filter(pk__in=[m.pk for m in messages])
            .order_by("id")
            .values_list("status", flat=True)
        )
    assert [o.status for o in outcomes.values()].count(MessageStatus.SENT) == 3
    waiting = [o for o in outcomes.values() if o.status == MessageStatus.QUEUED]
    assert len(waiting) == 2 and all(o.defer_until is not None for o in waiting)
    assert statuses.count(MessageStatus.QUEUED) == 2 and len(twilio.requests) == 3
