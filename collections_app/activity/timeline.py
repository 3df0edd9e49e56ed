"""The customer's timeline: every write that a person on the team should see later (a payment,
a message, a promise, a note) leaves one `Interaction`, in the same transaction."""

from datetime import datetime

from django.utils import timezone

from collections_app.models import Interaction, InteractionKind, InvoiceMessage
from collections_app.models.activity import summary_fit
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
        summary=summary_fit(summary),
        data=data or {},
        actor=actor,
        occurred_at=occurred_at or timezone.now(),
    )


def message_links(messages) -> dict[int, tuple[int, int]]:
    """message id → (invoice id, customer id) of the invoice each message is about (the first
    link wins), in one read for all of them."""
    links: dict[int, tuple[int, int]] = {}
    for message_id, invoice_id, customer_id in (
        InvoiceMessage.objects.with_scope(tenant=list({m.tenant_id for m in messages}))
        .filter(message_id__in={m.pk for m in messages})
        .order_by("-id")
        .values_list("message_id", "invoice_id", "invoice__customer_id")
    ):
        links[message_id] = (invoice_id, customer_id)
    return links


def message_resolution_log(*, message, actor, from_status: str, to_status: str) -> None:
    """A person settled a message whose outcome was unknown: the timeline row of that move
    (written a moment before, in the same transaction, by the status receivers) gets the
    person and is marked as theirs; without one, a row is written."""
    row = (
        Interaction.objects.with_scope(tenant=message.tenant_id)
        .filter(
            message_id=message.pk,
            kind=InteractionKind.MESSAGE_STATUS,
            data__from=from_status,
            data__to=to_status,
            actor__isnull=True,
        )
        .order_by("-id")
        .first()
    )
    if row is not None:
        row.actor = actor
        row.data = {**row.data, "by_person": True}
        row.save(update_fields=["actor", "data"])
        return
    links = message_links([message])
    if message.pk not in links:
        return
    invoice_id, customer_id = links[message.pk]
    Interaction.objects.create(
        tenant_id=message.tenant_id,
        customer_id=customer_id,
        invoice_id=invoice_id,
        message_id=message.pk,
        kind=InteractionKind.MESSAGE_STATUS,
        channel=message.channel,
        summary=f"{message.channel}: {from_status} → {to_status}",
        data={"from": from_status, "to": to_status, "by_person": True},
        actor=actor,
    )
