"""Delivery reports: what a provider says happened to a message after it left (delivered,
read, failed, undelivered)."""

from django.utils import timezone

from messaging import hooks
from messaging.models import Message, MessageStatus
from messaging.transitions import message_transition
from tenants.models import Tenant

# What a provider's delivery report may move a message to, from where. Reports arrive late,
# twice or out of order: a move is taken only forward, and a replay changes nothing.
_REPORT_MOVES = {
    MessageStatus.SENT: {
        MessageStatus.DELIVERED,
        MessageStatus.READ,
        MessageStatus.FAILED,
        MessageStatus.UNDELIVERED,
    },
    MessageStatus.DELIVERED: {MessageStatus.READ},
}
_REPORT_STAMPS = {
    MessageStatus.DELIVERED: "delivered_at",
    MessageStatus.READ: "read_at",
    MessageStatus.FAILED: "failed_at",
    MessageStatus.UNDELIVERED: "failed_at",
}


def message_status_report(
    *,
    tenant: Tenant,
    status: str,
    provider_message_id: str = "",
    ref: str = "",
    error: str = "",
    refused: str | None = None,
) -> Message | None:
    """Apply a provider's delivery report (delivered, read, failed, undelivered) to the
    tenant's message with that provider id, or that Régua reference. Returns the message if
    its status changed, else None (unknown message, a replay, or a report older than what the
    message already shows). `refused` ("invalid" or "opt_out") says the report refused the
    recipient for good: the contact is flagged (`hooks.contact_refused`)."""
    if ref:
        message = Message.objects.filter(ref=ref).first()
    elif provider_message_id:
        message = Message.objects.filter(provider_message_id=provider_message_id).first()
    else:
        return None
    if message is None or status not in _REPORT_MOVES.get(message.status, ()):
        return None
    fields = {_REPORT_STAMPS[status]: timezone.now()}
    if status == MessageStatus.READ and message.delivered_at is None:
        fields["delivered_at"] = fields["read_at"]
    if error:
        fields["error"] = error
    moved = message_transition(message, from_status=message.status, to_status=status, **fields)
    if moved and refused is not None:
        hooks.contact_refused.send(
            sender=Message, message=message, reason=error, opt_out=refused == "opt_out"
        )
    return message if moved else None
