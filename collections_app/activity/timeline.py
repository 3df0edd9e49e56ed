"""The customer's timeline: every write that a person on the team should see later (a payment,
a message, a promise, a note) leaves one `Interaction`, in the same transaction."""

from datetime import datetime

from django.utils import timezone

from collections_app.models import Interaction
from tenants.models import Tenant


def interaction_log(
    *,
    tenant: Tenant,
    customer_id: int,
    kind: str,
    summary: str,
    invoice=None,
    message=None,
    channel: str = "",
    data: dict | None = None,
    actor=None,
    occurred_at: datetime | None = None,
) -> Interaction:
    """One entry in the customer's timeline (the summary cut to 300 characters), dated now
    unless `occurred_at` says when it happened."""
    return Interaction.objects.create(
        tenant=tenant,
        customer_id=customer_id,
        invoice=invoice,
        message=message,
        kind=kind,
        channel=channel,
        summary=summary[:300],
        data=data or {},
        actor=actor,
        occurred_at=occurred_at or timezone.now(),
    )
