"""What an agent does on an invoice: log a call or a note, pause or resume its reminders, send
a message from a template now. Each is one transaction with its timeline entry."""

from datetime import date

from django.db import transaction
from django.utils.translation import gettext as _

from collections_app.activity.messages import cancel_queued_reminders, invoice_message_queue
from collections_app.activity.timeline import interaction_log
from collections_app.engine.message_context import message_context
from collections_app.models import InteractionKind, Invoice, InvoiceStatus
from collections_app.money import format_day
from messaging.models import Message, MessagePurpose, Template
from messaging.template_check import template_check_values
from messaging.templating import TemplateRenderError, template_render
from tenants.models import Tenant

CALL_OUTCOMES = {
    "reached": "Falou com o cliente",
    "no_answer": "Não atendeu",
    "wrong_number": "Número errado",
    "voicemail": "Deixou recado",
}


class ActionError(ValueError):
    """An agent's action that cannot be done, with the reason in their language."""


def call_record(
    *, tenant: Tenant, customer_id: int, actor, outcome: str, note: str = "", invoice=None
):
    """A call with the customer, about one invoice or none in particular."""
    if outcome not in CALL_OUTCOMES:
        raise ActionError(_("Choose how the call went."))
    note = note.strip()
    return interaction_log(
        tenant=tenant,
        customer_id=customer_id,
        invoice=invoice,
        kind=InteractionKind.CALL,
        channel="phone",
        actor=actor,
        summary=CALL_OUTCOMES[outcome] + (f": {note}" if note else ""),
        data={"outcome": outcome},
    )


def note_record(*, tenant: Tenant, customer_id: int, actor, text: str, invoice=None):
    """A note in the customer's timeline, about one invoice or none in particular."""
    text = text.strip()
    if not text:
        raise ActionError(_("Write the note."))
    return interaction_log(
        tenant=tenant,
        customer_id=customer_id,
        invoice=invoice,
        kind=InteractionKind.NOTE,
        actor=actor,
        summary=text,
        data={"text": text[:2000]},
    )


def invoice_pause(*, tenant: Tenant, invoice: Invoice, actor, until: date | None, today: date):
    """Pause the invoice's reminders until a date (inclusive), or resume them (`until` None)."""
    if until is not None and until < today:
        raise ActionError(_("The pause must end today or later."))
    with transaction.atomic():
        invoice.paused_until = until
        invoice.save(update_fields=["paused_until", "updated_at"])
        if until is not None:
            cancel_queued_reminders(tenant=tenant, invoice=invoice, reason="invoice_paused")
        interaction_log(
            tenant=tenant,
            customer_id=invoice.customer_id,
            invoice=invoice,
            kind=InteractionKind.NOTE,
            actor=actor,
            summary=(
                f"Lembretes pausados até {format_day(until, tenant.locale)}"
                if until
                else "Lembretes retomados"
            ),
            data={"paused_until": until.isoformat() if until else None},
        )
    return invoice


def customer_pause(*, tenant: Tenant, customer, actor, until: date | None, today: date):
    """Pause every reminder to the customer until a date (inclusive), or resume them."""
    if until is not None and until < today:
        raise ActionError(_("The pause must end today or later."))
    with transaction.atomic():
        customer.paused_until = until
        customer.save(update_fields=["paused_until", "updated_at"])
        if until is not None:
            for invoice in customer.invoices.filter(status=InvoiceStatus.OPEN):
                cancel_queued_reminders(tenant=tenant, invoice=invoice, reason="customer_paused")
        interaction_log(
            tenant=tenant,
            customer_id=customer.pk,
            kind=InteractionKind.NOTE,
            actor=actor,
            summary=(
                f"Lembretes ao cliente pausados até {format_day(until, tenant.locale)}"
                if until
                else "Lembretes ao cliente retomados"
            ),
            data={"customer_paused_until": until.isoformat() if until else None},
        )
    return customer


def manual_message_send(*, tenant: Tenant, invoice: Invoice, actor, template: Template) -> Message:
    """Queue a message about the invoice now, from one of the tenant's templates, to the
    customer's address on the template's channel. It is rendered at send time like any other
    message, and goes through the same send window, rate limits and opt-out checks."""
    if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.PAID):
        raise ActionError(_("This invoice is not open."))
    address = invoice.customer.address_for(template.channel)
    if not address:
        raise ActionError(
            _("The customer cannot be reached by %(channel)s (no address, opted out or refused).")
            % {"channel": template.get_channel_display()}
        )
    check = template_check_values(
        {
            "channel": template.channel,
            "subject": template.subject,
            "body": template.body,
            "content_sid": template.content_sid,
            "content_variables": template.content_variables,
        }
    )
    if not check.ok:
        raise ActionError(_("The template has errors; fix it first."))
    with transaction.atomic():
        message = invoice_message_queue(
            tenant=tenant,
            invoice=invoice,
            recipient=address,
            template=template,
            purpose=MessagePurpose.MANUAL,
            summary=f"Mensagem manual ({template.key}): {template.channel} → {address}",
            actor=actor,
            data={"template": template.key, "manual": True},
        )
    return message


def manual_message_preview(*, invoice: Invoice, template: Template) -> dict:
    """What the message would say now (subject and body), for the agent to read first."""
    probe = Message(tenant_id=invoice.tenant_id, channel=template.channel)
    probe._regua_invoices = [invoice]
    probe._regua_promises = {}
    context = message_context(probe)
    try:
        return {
            "subject": template_render(template.subject, context) if template.subject else "",
            "body": template_render(template.body, context),
            "error": "",
        }
    except TemplateRenderError as exc:
        return {"subject": "", "body": "", "error": str(exc)}
