"""Payments: recording one against an invoice (idempotent on its external id) and attributing it
to the message that brought it. What follows a payment (the rollups, the webhook, the timeline,
the ladder stopping, the thank-you, an agreement completed, an overpayment's task) is the list
in `payments/after_payment.py`, run by `invoice_record_payment` in its transaction."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_app.models import (
    Customer,
    Interaction,
    InteractionKind,
    Invoice,
    InvoiceMessage,
    InvoiceStatus,
    Payment,
    PaymentSource,
)
from collections_app.stats.rollups import funnel_add, funnel_keys
from messaging.models import Message, MessagePurpose
from tenants.models import Tenant


class PaymentError(ValueError):
    """A payment that cannot be recorded, with the reason."""


PAID_FIELDS = ["status", "paid_at", "paid_on", "days_to_pay", "days_late"]


@dataclass(frozen=True)
class PaymentRecorded:
    """What the follow-ups of a payment are told: the payment, its invoice (locked, saved with
    the payment counted), whether this payment paid the invoice in full, what it paid beyond
    the invoice's amount, whether a thank-you may go, and the moment it was recorded."""

    tenant: Tenant
    invoice: Invoice
    payment: Payment
    paid_in_full: bool
    excess: Decimal
    thank_you: bool
    now: datetime


PaymentFollowUp = Callable[[PaymentRecorded], object]

# Registered once at startup by `apps.py` from `payments/after_payment.py`, which holds the
# list. It cannot be imported here: its follow-ups (an agreement settling its invoices)
# record payments through this module.
_follow_ups: tuple[PaymentFollowUp, ...] = ()


def payment_follow_ups_register(follow_ups: Iterable[PaymentFollowUp]) -> None:
    """Set what runs, in this order, after each payment is recorded."""
    global _follow_ups
    _follow_ups = tuple(follow_ups)


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
    first payment and changes nothing. The payment is attributed to the last message or click
    before it (`payment_attribute`); the invoice's amount paid grows and, paid in full, the
    invoice is paid (`invoice_paid_in_full`). Then, in the same transaction and in order, the
    follow-ups of `payments/after_payment.py` (`PAYMENT_FOLLOW_UPS`): the dashboard's rollups,
    the `payment.received` webhook, the timeline; paid in full, the ladder stops at once
    (queued reminders cancelled, promises kept, the ladder's tasks closed), the customer is
    classified again, the thank-you is queued after commit unless the payment is history
    (invariant 10; `thank_you=False`: never) and an instalment may complete its agreement;
    more than the invoice's amount leaves the excess on record and gives the team a task to
    refund or credit it. Raises PaymentError for a non-positive amount, a future date, or a
    cancelled invoice."""
    if not _follow_ups:
        raise ImproperlyConfigured(
            "No payment follow-ups: CollectionsConfig.ready() registers them."
        )
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
        recorded = PaymentRecorded(
            tenant=tenant,
            invoice=invoice,
            payment=payment,
            paid_in_full=became_paid,
            excess=invoice.amount_paid - invoice.amount - excess_before,
            thank_you=thank_you,
            now=now,
        )
        for follow_up in _follow_ups:
            follow_up(recorded)
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
