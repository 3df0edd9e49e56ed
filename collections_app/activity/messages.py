"""The domain's side of messages about invoices: queueing one with its timeline entry,
cancelling the reminders that no longer apply, and what the domain does when messaging reports
a message's fate (registered in `apps.py` on `messaging.hooks`): the timeline, the funnel's
counters, the `message.*` webhooks, and flagging a recipient a provider refused for good."""

from collections.abc import Iterable

from collections_app.activity.followups import followup_task_create
from collections_app.activity.timeline import interaction_log, message_links
from collections_app.engine.message_context import message_cancel_reason, messages_prefetch
from collections_app.models import (
    Interaction,
    InteractionKind,
    Invoice,
    InvoiceMessage,
    WebhookEvent,
)
from collections_app.models.activity import summary_fit
from collections_app.stats.rollups import funnel_add, funnel_keys
from collections_app.webhooks_out.events import webhook_emit_many
from messaging.enqueue import messages_enqueue
from messaging.models import Message, MessagePurpose, MessageStatus, Template
from messaging.sending import message_cancel
from tenants.models import Tenant


def cancel_queued_reminders(
    *,
    tenant: Tenant,
    reason: str,
    invoice: Invoice | None = None,
    invoices: Iterable[Invoice] = (),
) -> int:
    """Cancel the reminders still queued about `invoice` (or about any of `invoices`: one read
    for all of them), with `reason`. Returns how many."""
    ids = [i.pk for i in invoices] + ([invoice.pk] if invoice is not None else [])
    if not ids:
        return 0
    queued = Message.objects.filter(
        invoice_links__invoice_id__in=ids,
        status=MessageStatus.QUEUED,
        purpose=MessagePurpose.REMINDER,
    ).distinct()  # a message about two of the invoices, once
    return sum(message_cancel(tenant=tenant, message=m, reason=reason) for m in queued)


def reminders_recheck(*, tenant: Tenant, invoice: Invoice) -> int:
    """Cancel the invoice's queued reminders that the send-time rule would now stop (after a
    promise, say), each with the rule's reason; the others stay queued. Returns how many."""
    queued = list(
        Message.objects.filter(
            invoice_links__invoice=invoice,
            status=MessageStatus.QUEUED,
            purpose=MessagePurpose.REMINDER,
        )
    )
    messages_prefetch(queued)
    cancelled = 0
    for message in queued:
        if reason := message_cancel_reason(message):
            cancelled += message_cancel(tenant=tenant, message=message, reason=reason)
    return cancelled


def invoice_message_queue(
    *,
    tenant: Tenant,
    invoice: Invoice,
    recipient: str,
    template: Template,
    purpose: str,
    summary: str,
    actor=None,
    data: dict | None = None,
) -> Message:
    """Queue a message about the invoice from a template (rendered when it leaves), with its
    timeline entry; the send is queued once the transaction commits."""
    message = Message.objects.create(
        tenant=tenant,
        channel=template.channel,
        recipient=recipient,
        template=template,
        purpose=purpose,
        subject=template.subject,
    )
    InvoiceMessage.objects.create(tenant=tenant, invoice=invoice, message=message)
    interaction_log(
        tenant=tenant,
        customer_id=invoice.customer_id,
        invoice=invoice,
        message=message,
        kind=InteractionKind.MESSAGE,
        channel=template.channel,
        actor=actor,
        summary=summary,
        data=data,
    )
    messages_enqueue(tenant=tenant, message_ids=[message.pk])
    return message


DELIVERED = {MessageStatus.DELIVERED, MessageStatus.READ}
FAILED = {MessageStatus.FAILED, MessageStatus.UNDELIVERED}


def _messages_emit(changes: list[tuple[Message, str, str]]) -> None:
    """`message.delivered` on a message's first delivery (or read), `message.failed` when it
    fails for good."""
    by_event: dict[tuple[int, str], list] = {}
    for message, old, new in changes:
        if new in DELIVERED and old not in DELIVERED:
            event = WebhookEvent.MESSAGE_DELIVERED
        elif new in FAILED:
            event = WebhookEvent.MESSAGE_FAILED
        else:
            continue
        by_event.setdefault((message.tenant_id, event), []).append(
            (
                f"message:{message.pk}",
                {
                    "message_id": message.pk,
                    "ref": message.ref,
                    "channel": message.channel,
                    "recipient": message.recipient,
                    "purpose": message.purpose,
                    "status": new,
                    "error": message.error,
                },
            )
        )
    for (tenant_id, event), items in by_event.items():
        webhook_emit_many(tenant_id=tenant_id, event=event, items=items)


def _funnel_count(changes: list[tuple[Message, str, str]]) -> None:
    """A reminder reaching `sent` counts as sent; its first delivery (or read) as delivered.
    Each transition happens once (they are conditional), so each counts once."""
    counted = []
    for message, old, new in changes:
        if message.purpose != MessagePurpose.REMINDER:
            continue
        if new == MessageStatus.SENT and old == MessageStatus.SENDING:
            counted.append((message, "sent"))
        elif new in DELIVERED and old == MessageStatus.SENT:
            counted.append((message, "delivered"))
    if counted:
        keys = funnel_keys([m for m, _field in counted])
        funnel_add((keys[m.pk], field, 1) for m, field in counted if m.pk in keys)


def contact_refused_record(*, message: Message, reason: str, opt_out: bool) -> int:
    """A provider refused the message's recipient for good. Each customer the message was
    about whose current address on the channel is still that recipient gets the channel
    flagged — opted out when the recipient opted out at the provider (STOP), else invalid —
    and an entry in its timeline. Returns how many customers were flagged."""
    links = (
        InvoiceMessage.objects.with_scope(tenant=message.tenant_id)
        .filter(message_id=message.pk)
        .select_related("invoice__customer")
    )
    flagged, seen = 0, set()
    for link in links:
        customer = link.invoice.customer
        if customer.pk in seen:
            continue
        seen.add(customer.pk)
        if customer.address_for(message.channel) != message.recipient:
            continue  # the address changed meanwhile, or is flagged already
        field = "opted_out_channels" if opt_out else "invalid_channels"
        setattr(customer, field, [*(getattr(customer, field) or []), message.channel])
        customer.save(update_fields=[field, "updated_at"])
        Interaction.objects.create(
            tenant_id=message.tenant_id,
            customer_id=customer.pk,
            invoice_id=link.invoice_id,
            message_id=message.pk,
            kind=InteractionKind.OPT_OUT if opt_out else InteractionKind.CONTACT_INVALID,
            channel=message.channel,
            summary=summary_fit(
                f"{message.channel}: {message.recipient} "
                + ("pediu para não receber mais" if opt_out else "recusado pelo provedor")
                + (f" ({reason})" if reason else "")
            ),
            data={"recipient": message.recipient, "reason": reason},
        )
        flagged += 1
    return flagged


# Moves back to `queued` that the team should see: a retry after a transient provider error
# (from `sending`), and a send the provider confirmed absent, to go once more (from `unknown`).
REQUEUED_FROM = {MessageStatus.SENDING, MessageStatus.UNKNOWN}


def messages_status_log(*, changes: list[tuple[Message, str, str]]) -> None:
    """Write messages' status changes into the timeline of the invoice(s) they are about, a
    move back to `queued` with its reason, and move the funnel's counters (a reminder sent,
    first delivered): one read of their invoices and one insert for a whole batch."""
    final = [c for c in changes if c[2] not in (MessageStatus.SENDING, MessageStatus.QUEUED)]
    if final:
        _funnel_count(final)
        _messages_emit(final)
    logged = final + [c for c in changes if c[2] == MessageStatus.QUEUED and c[1] in REQUEUED_FROM]
    if not logged:
        return
    links = message_links([message for message, _old, _new in logged])
    Interaction.objects.bulk_create(
        Interaction(
            tenant_id=message.tenant_id,
            customer_id=links[message.pk][1],
            invoice_id=links[message.pk][0],
            message_id=message.pk,
            kind=InteractionKind.MESSAGE_STATUS,
            channel=message.channel,
            summary=summary_fit(
                f"{message.channel}: {old_status} → {new_status}"
                + (
                    f" ({message.error})"
                    if message.error and new_status != MessageStatus.SENT
                    else ""
                )
            ),
            data={"from": old_status, "to": new_status}
            | ({"error": message.error[:300]} if new_status == MessageStatus.QUEUED else {}),
        )
        for message, old_status, new_status in logged
        if message.pk in links
    )


def message_check_task_create(*, message: Message, reason: str):
    """Messaging could not settle whether a message reached its provider (its outcome is
    `unknown` and no lookup answers): a task on the message's first invoice asks a person to
    check at the provider and resend by hand only if it did not arrive. A message about no
    invoice gets no task (it stays `unknown`, visible in the message lists). Returns the task
    or None."""
    link = (
        InvoiceMessage.objects.with_scope(tenant=message.tenant_id)
        .filter(message_id=message.pk)
        .select_related("invoice__customer", "invoice__tenant")
        .order_by("invoice__effective_due_date", "invoice_id")
        .first()
    )
    if link is None:
        return None
    invoice = link.invoice
    return followup_task_create(
        tenant=invoice.tenant,
        customer_id=invoice.customer_id,
        invoice=invoice,
        title=(
            f"Confirmar envio de {message.get_channel_display()} para {message.recipient} "
            f"({invoice.number or invoice.external_id}) no provedor"
        ),
        origin="message_check",
        notes=(
            "O provedor não confirmou se recebeu a mensagem; ela não foi reenviada para não "
            "duplicar. Verifique no painel do provedor e reenvie só se não chegou.\n"
            f"{reason}"
        ),
        data={"message_id": message.pk},
    )
