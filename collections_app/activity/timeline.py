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
        summary=summary[:300],
        data=data or {},
        actor=actor,
        occurred_at=occurred_at or timezone.now(),
    )


def _message_links(messages) -> dict[int, tuple[int, int]]:
    """message id → (invoice id, customer id) of the invoice each message is about (the first
    link wins, as in `messages_status_log`), in one read for all of them."""
    links: dict[int, tuple[int, int]] = {}
    for message_id, invoice_id, customer_id in (
        InvoiceMessage.objects.with_scope(tenant=list({m.tenant_id for m in messages}))
        .filter(message_id__in={m.pk for m in messages})
        .order_by("-id")
        .values_list("message_id", "invoice_id", "invoice__customer_id")
    ):
        links[message_id] = (invoice_id, customer_id)
    return links


# Moves back to `queued` that the team should see: a retry after a transient provider error
# (from `sending`), and a send the provider confirmed absent, to go once more (from `unknown`).
REQUEUED_FROM = {"sending", "unknown"}


def message_requeues_log(*, changes) -> None:
    """Write the moves back to `queued` into the timeline of the invoice each message is about,
    with the reason (the message's error), in one insert. The other status moves are written
    by `activity.messages.messages_status_log`, which leaves these out."""
    moves = [(m, old, new) for m, old, new in changes if new == "queued" and old in REQUEUED_FROM]
    if not moves:
        return
    links = _message_links([m for m, _old, _new in moves])
    Interaction.objects.bulk_create(
        Interaction(
            tenant_id=message.tenant_id,
            customer_id=links[message.pk][1],
            invoice_id=links[message.pk][0],
            message_id=message.pk,
            kind=InteractionKind.MESSAGE_STATUS,
            channel=message.channel,
            summary=summary_fit(
                f"{message.channel}: {old} → {new}"
                + (f" ({message.error})" if message.error else "")
            ),
            data={"from": old, "to": new, "error": message.error[:300]},
        )
        for message, old, new in moves
        if message.pk in links
    )


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
    links = _message_links([message])
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
