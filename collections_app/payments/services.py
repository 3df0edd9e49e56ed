"""Payments: recording one against an invoice (idempotent on its external id), attributing it to
the message that brought it, and what follows when it pays the invoice in full."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_app.activity.followups import ladder_tasks_cancel, overpayment_task_create
from collections_app.activity.messages import cancel_queued_reminders, invoice_message_queue
from collections_app.activity.timeline import interaction_log
from collections_app.invoices.segments import customers_classify
from collections_app.models import (
    Customer,
    Interaction,
    InteractionKind,
    Invoice,
    InvoiceMessage,
    InvoiceStatus,
    Ladder,
    Payment,
    PaymentPromise,
    PaymentSource,
    PromiseStatus,
    WebhookEvent,
)
from collections_app.money import format_money
from collections_app.stats.rollups import funnel_add, funnel_keys, stats_refresh_invoices
from collections_app.webhooks_out.events import invoice_data, webhook_emit
from messaging.models import Message, MessagePurpose, MessageStatus, Template
from tenants.models import Tenant

# DESIGN invariant 10: a payment recorded later than this after it happened is history.
THANK_YOU_MAX_DELAY = timedelta(days=3)


class PaymentError(ValueError):
    """A payment that cannot be recorded, with the reason."""


PAID_FIELDS = ["status", "paid_at", "paid_on", "days_to_pay", "days_late"]


def invoice_paid_in_full(*, tenant: Tenant, invoice: Invoice, paid_at: datetime) -> list[str]:
    """Mark the invoice (in memory) paid in full at `paid_at`: its status, and the local date
    and figures the metrics average. Returns the fields set, for the caller to save."""
    paid_on = paid_at.astimezone(ZoneInfo(tenant.timezone)).date()
    invoice.status = InvoiceStatus.PAID
    invoice.paid_at = paid_at
    invoice.paid_on = paid_on
    invoice.days_to_pay = (paid_on - invoice.issue_date).days
    invoice.days_late = max(0, (paid_on - invoice.effective_due_date).days)
    return list(PAID_FIELDS)


def invoice_record_payment(
    *,
    tenant: Tenant,
    invoice: Invoice,
    amount: Decimal,
    paid_at: datetime | None = None,
    external_id: str | None = None,
    source: str = PaymentSource.API,
    actor=None,
    thank_you: bool = True,
) -> tuple[Payment, bool]:
    """Record a payment against an invoice. Idempotent on `external_id`: a repeat returns the
    first payment and changes nothing. Paid in full → the ladder stops at once (queued
    reminders are cancelled) and, unless the payment is history (invariant 10), the thank-you
    is queued after commit (`thank_you=False`: never). The payment is attributed to the last
    message or click before it (`payment_attribute`). More than the invoice's amount leaves
    the excess on record and gives the team a task to refund or credit it. An instalment paid
    in full may complete its agreement. Raises PaymentError for a non-positive amount, a
    future date, or a cancelled invoice."""
    now = timezone.now()
    paid_at = paid_at or now
    if amount is None or amount <= 0:
        raise PaymentError(_("The amount must be greater than zero."))
    if paid_at > now + timedelta(minutes=5):
        raise PaymentError(_("The payment date cannot be in the future."))
    with transaction.atomic():
        if external_id:
            earlier = Payment.objects.filter(external_id=external_id).first()
            if earlier is not None:
                return earlier, False
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.status in (InvoiceStatus.CANCELLED, InvoiceStatus.WRITTEN_OFF):
            raise PaymentError(
                _("Invoice %(number)s is %(status)s: it takes no payment.")
                % {"number": invoice.number, "status": invoice.get_status_display().lower()}
            )
        payment = Payment.objects.create(
            tenant=tenant,
            invoice=invoice,
            external_id=external_id or None,
            amount=amount,
            paid_at=paid_at,
            source=source,
            recorded_by=actor,
        )
        if source != PaymentSource.AGREEMENT:
            payment_attribute(payment=payment, invoice=invoice)
        excess_before = max(invoice.amount_paid - invoice.amount, 0)
        invoice.amount_paid += amount
        fields = ["amount_paid", "updated_at"]
        became_paid = invoice.status == InvoiceStatus.OPEN and invoice.amount_paid >= invoice.amount
        if became_paid:
            fields += invoice_paid_in_full(tenant=tenant, invoice=invoice, paid_at=paid_at)
        invoice.save(update_fields=fields)
        stats_refresh_invoices(tenant_id=tenant.pk, invoices=[invoice])
        if source != PaymentSource.AGREEMENT:
            webhook_emit(
                tenant_id=tenant.pk,
                event=WebhookEvent.PAYMENT_RECEIVED,
                dedupe_key=f"payment:{payment.pk}",
                data={
                    "payment_id": payment.pk,
                    "external_id": payment.external_id,
                    "amount": str(amount),
                    "paid_at": paid_at.isoformat(),
                    "source": source,
                    "invoice": invoice_data(invoice),
                },
            )
        interaction_log(
            tenant=tenant,
            customer_id=invoice.customer_id,
            invoice=invoice,
            kind=InteractionKind.PAYMENT,
            actor=actor,
            occurred_at=paid_at,
            summary=f"{format_money(amount, invoice.currency, tenant.locale)} ({source})",
            data={"payment_id": payment.pk, "amount": str(amount), "source": source},
        )
        if became_paid:
            cancel_queued_reminders(tenant=tenant, invoice=invoice, reason="invoice_paid")
            PaymentPromise.objects.filter(invoice=invoice, status=PromiseStatus.OPEN).update(
                status=PromiseStatus.KEPT, resolved_at=now
            )
            customers_classify(tenant=tenant, customer_ids=[invoice.customer_id])
            ladder_tasks_cancel(invoice=invoice, now=now)
            if thank_you and now - paid_at <= THANK_YOU_MAX_DELAY and _was_reminded(invoice):
                _queue_thank_you(tenant=tenant, invoice=invoice)
            if invoice.agreement_id is not None:
                from collections_app.payments.agreements import agreement_instalment_paid

                agreement_instalment_paid(tenant=tenant, invoice=invoice)
        excess = invoice.amount_paid - invoice.amount - excess_before
        if excess > 0:
            overpayment_task_create(tenant=tenant, invoice=invoice, payment=payment, excess=excess)
    return payment, True


ATTRIBUTION_WINDOW = timedelta(days=7)


def payment_attribute(*, payment: Payment, invoice: Invoice) -> None:
    """Attribute the payment to the last message sent about the invoice, or the last click on
    one, within 7 days before it (whichever came last), with that message's step and channel
    and the customer's segment. Sets the fields on `payment` and saves them."""
    since = payment.paid_at - ATTRIBUTION_WINDOW
    sent = (
        Message.objects.filter(
            invoice_links__invoice=invoice,
            purpose=MessagePurpose.REMINDER,
            sent_at__gte=since,
            sent_at__lte=payment.paid_at,
        )
        .order_by("-sent_at", "-id")
        .values_list("id", "sent_at")
        .first()
    )
    click = (
        Interaction.objects.filter(
            invoice=invoice,
            kind=InteractionKind.CLICK,
            message__isnull=False,
            occurred_at__gte=since,
            occurred_at__lte=payment.paid_at,
        )
        .order_by("-occurred_at", "-id")
        .values_list("message_id", "occurred_at")
        .first()
    )
    candidates = [
        (at, via, mid)
        for via, row in (("message", sent), ("click", click))
        if row
        for mid, at in [row]
    ]
    if not candidates:
        return
    _at, via, message_id = max(candidates)
    link = (
        InvoiceMessage.objects.filter(message_id=message_id, invoice=invoice)
        .select_related("dispatch", "message")
        .first()
    )
    payment.attributed_message_id = message_id
    payment.attributed_via = via
    payment.attributed_channel = link.message.channel if link else ""
    payment.attributed_step_id = link.dispatch.step_id if link and link.dispatch else None
    payment.attributed_segment_id = (
        Customer.objects.filter(pk=invoice.customer_id).values_list("segment_id", flat=True).first()
    )
    payment.save(
        update_fields=[
            "attributed_message",
            "attributed_via",
            "attributed_channel",
            "attributed_step",
            "attributed_segment",
        ]
    )
    message = Message.objects.filter(pk=message_id).first()
    keys = funnel_keys([message]) if message is not None else {}
    if message_id in keys:
        funnel_add([(keys[message_id], "paid", 1), (keys[message_id], "recovered", payment.amount)])


def _was_reminded(invoice: Invoice) -> bool:
    return Message.objects.filter(
        invoice_links__invoice=invoice,
        purpose=MessagePurpose.REMINDER,
        status__in=[MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ],
    ).exists()


def _queue_thank_you(*, tenant: Tenant, invoice: Invoice) -> Message | None:
    customer = invoice.customer
    segment_ladder = customer.segment.ladder if customer.segment_id else None
    ladder = segment_ladder or Ladder.objects.filter(is_default=True).first()
    address = customer.address_for("email")
    if ladder is None or not ladder.thank_you_template_key or not address:
        return None
    template = (
        Template.objects.filter(key=ladder.thank_you_template_key, channel="email")
        .order_by("-locale")
        .first()
    )
    if template is None:
        return None
    return invoice_message_queue(
        tenant=tenant,
        invoice=invoice,
        recipient=address,
        template=template,
        purpose=MessagePurpose.THANK_YOU,
        summary=f"Agradecimento: email → {address}",
        data={"status": MessageStatus.QUEUED},
    )


def payments_record(*, tenant: Tenant, items: list[dict]) -> list[tuple[Payment, bool]]:
    """Record several payments atomically (validated items with `invoice` an Invoice)."""
    with transaction.atomic():
        return [
            invoice_record_payment(
                tenant=tenant,
                invoice=item["invoice"],
                amount=item["amount"],
                paid_at=item.get("paid_at"),
                external_id=item.get("external_id"),
                source=item.get("source", PaymentSource.API),
            )
            for item in items
        ]
