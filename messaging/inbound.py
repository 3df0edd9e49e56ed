"""Messages customers send to the tenant, and the WhatsApp session a message of theirs opens."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from messaging import hooks
from messaging.models import InboundMessage
from tenants.models import Tenant

WHATSAPP_SESSION = timedelta(hours=24)


def whatsapp_sessions_open(
    *, tenant: Tenant, recipients: list[str], now: datetime | None = None
) -> set[str]:
    """Which of these numbers wrote to the tenant on WhatsApp in the last 24 hours (one
    query): a free-text WhatsApp message to them is let through."""
    if not recipients:
        return set()
    since = (now or timezone.now()) - WHATSAPP_SESSION
    return set(
        InboundMessage.objects.filter(
            channel="whatsapp", sender__in=set(recipients), received_at__gte=since
        ).values_list("sender", flat=True)
    )


def inbound_record(
    *, tenant: Tenant, channel: str, sender: str, body: str, provider: str, provider_message_id: str
) -> InboundMessage | None:
    """Record a message a customer sent, once per provider id, and tell the domain
    (`hooks.inbound_received`). Returns None for a redelivery already recorded."""
    with transaction.atomic():
        inbound, created = InboundMessage.objects.get_or_create(
            tenant=tenant,
            provider_message_id=provider_message_id,
            defaults={"channel": channel, "sender": sender, "body": body, "provider": provider},
        )
        if not created:
            return None
        hooks.inbound_received.send(sender=InboundMessage, inbound=inbound)
    return inbound


def whatsapp_session_open(*, tenant: Tenant, recipient: str, now: datetime | None = None) -> bool:
    """Whether the customer wrote to the tenant on WhatsApp in the last 24 hours."""
    return recipient in whatsapp_sessions_open(tenant=tenant, recipients=[recipient], now=now)
