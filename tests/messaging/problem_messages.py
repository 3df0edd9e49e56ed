"""Messages about an invoice brought into each state a send can end in, through the same
conditional transitions the workers and the upkeep make (so the timeline hears of every move):
shared by the page, timeline, metrics and browser tests."""

from datetime import timedelta

from django.db.models import F
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from collections_app.activity.timeline import interaction_log
from collections_app.models import InteractionKind, InvoiceMessage
from messaging.models import Message, MessagePurpose, MessageStatus
from messaging.transitions import message_transition, messages_claim
from messaging.upkeep import STUCK_AFTER_SECONDS
from tests.collections_app.factories import InvoiceFactory

TIMEOUT = "Twilio: read timeout after the request was written"
UNAVAILABLE = "Twilio 503: service unavailable"
INVALID = "Twilio 21211: 'To' number is not a valid phone number"


def queued_message(tenant, invoice=None, *, channel="sms", recipient="+5511999990001"):
    """A reminder about `invoice` (a new overdue one if not given), queued, with its timeline
    entry, as the ladder queues one."""
    invoice = invoice or InvoiceFactory(
        tenant=tenant, due_date=timezone.localdate() - timedelta(days=10)
    )
    with scope(tenant=tenant):
        message = Message.objects.create(
            tenant=tenant, channel=channel, recipient=recipient, purpose=MessagePurpose.REMINDER
        )
        InvoiceMessage.objects.create(tenant=tenant, invoice=invoice, message=message)
        interaction_log(
            tenant=tenant,
            customer_id=invoice.customer_id,
            invoice=invoice,
            message=message,
            kind=InteractionKind.MESSAGE,
            channel=channel,
            summary="Lembrete de vencimento",
        )
    return message, invoice


def claimed(message) -> Message:
    with scopes_disabled():
        [message] = messages_claim([message])
    return message


def move(message, to_status, **fields) -> Message:
    with scopes_disabled():
        assert message_transition(
            message, from_status=message.status, to_status=to_status, **fields
        ), f"{message.pk} did not move {message.status} → {to_status}"
    return message


def unknown_message(tenant, invoice=None, **kwargs) -> tuple[Message, object]:
    message, invoice = queued_message(tenant, invoice, **kwargs)
    move(claimed(message), MessageStatus.UNKNOWN, provider="twilio_sms", error=TIMEOUT)
    return message, invoice


def failed_message(tenant, invoice=None, **kwargs) -> tuple[Message, object]:
    message, invoice = queued_message(tenant, invoice, **kwargs)
    move(
        claimed(message),
        MessageStatus.FAILED,
        provider="twilio_sms",
        error=INVALID,
        failed_at=timezone.now(),
    )
    return message, invoice


def stuck_message(tenant, invoice=None, **kwargs) -> tuple[Message, object]:
    """Claimed by a worker that died: `sending` since longer than the upkeep waits."""
    message, invoice = queued_message(tenant, invoice, **kwargs)
    claimed(message)
    with scopes_disabled():
        Message.objects.filter(pk=message.pk).update(
            sending_at=F("sending_at") - timedelta(seconds=STUCK_AFTER_SECONDS + 60)
        )
        message.refresh_from_db()
    return message, invoice
