"""Payments: recording one against an invoice (idempotent on its external id), and the batch
that the follow-ups of recorded payments are told (`PaymentsRecorded`). What follows payments
(attribution, the rollups, the webhook, the timeline, the ladder stopping, the thank-you, an
agreement completed, an overpayment's task) is the one list in `payments/after_payment.py`,
run by `payments_follow_up`: by `invoice_record_payment` for one live payment, by the import
(`imports/payments.py`) for a chunk of imported history."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
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
from collections_app.payments.amounts import amount_refusal, payment_refusal
from collections_app.stats.rollups import funnel_add, funnel_keys
from messaging.models import Message, MessagePurpose
from tenants.models import Tenant


class PaymentError(ValueError):
    """A payment that cannot be recorded, with the reason."""


PAID_FIELDS = ["status", "paid_at", "paid_on", "days_to_pay", "days_late"]


class Recording(StrEnum):
    """What kind of recording a batch of payments is: the follow-ups decide from it."""

    LIVE = "live"  # as the money arrives: the API, the pages, Pix, a bank file, an agreement
    HISTORY = "history"  # an imported payment history: not news (DESIGN invariant 10)


@dataclass(frozen=True)
class PaymentFact:
    """One payment just recorded: its invoice (saved with the payment counted), whether this
    payment paid the invoice in full, and what it paid beyond the invoice's amount."""

    invoice: Invoice
    payment: Payment
    paid_in_full: bool
    excess: Decimal


@dataclass(frozen=True)
class PaymentsRecorded:
    """What the follow-ups of payments are told: a batch of payments of one tenant recorded at
    `now` (one, live; many, an imported history), the kind of recording, and what the caller
    asked: whether a thank-you may go, whether the customers are classified here (a chunked
    import classifies once at the end) and whether the dashboard's rollups are refreshed here
    (an import refreshes the days it wrote once at the end)."""

    tenant: Tenant
    now: datetime
    payments: tuple[PaymentFact, ...]
    recording: Recording = Recording.LIVE
    thank_you: bool = True
    classify: bool = True
    refresh_stats: bool = True

    @property
    def paid_in_full(self) -> tuple[PaymentFact, ...]:
        """The payments that paid their invoice in full."""
        return tuple(fact for fact in self.payments if fact.paid_in_full)

    @property
    def invoices_paid_in_full(self) -> list[Invoice]:
        """The invoices this batch paid in full, each once."""
        return list({fact.invoice.pk: fact.invoice for fact in self.paid_in_full}.values())


PaymentFollowUp = Callable[[PaymentsRecorded], object]

# Registered once at startup by `apps.py` from `payments/after_payment.py`, which holds the
# list. It cannot be imported here: its follow-ups (an agreement settling its invoices)
# record payments through this module.
_follow_ups: tuple[PaymentFollowUp, ...] = ()


def payment_follow_ups_register(follow_ups: Iterable[PaymentFollowUp]) -> None:
    """Set what runs, in this order, after payments are recorded."""
    global _follow_ups
    _follow_ups = tuple(follow_ups)


def payment_follow_ups() -> tuple[PaymentFollowUp, ...]:
    """The registered follow-ups, in order. Raises ImproperlyConfigured before `apps.py` has
    registered them: a payment must never be recorded without what follows it."""
    if not _follow_ups:
        raise ImproperlyConfigured(
            "No payment follow-ups: CollectionsConfig.ready() registers them."
        )
    return _follow_ups


def payments_follow_up(recorded: PaymentsRecorded) -> None:
    """Run every follow-up, in order, on the batch (in the caller's transaction). The one way
    both a live payment and an imported history are followed up."""
    for follow_up in payment_follow_ups():
        follow_up(recorded)


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
    first payment and changes nothing. The invoice's amount paid grows and, paid in full, the
    invoice is paid (`invoice_paid_in_full`). Then, in the same transaction, the payment goes
    through the follow-ups of `payments/after_payment.py` (`PAYMENT_FOLLOW_UPS`) as a live
    batch of one: attributed to the last message or click before it, the dashboard's rollups,
    the `payment.received` webhook, the timeline; paid in full, the ladder stops at once
    (queued reminders cancelled, promises kept, the ladder's tasks closed), the customer is
    classified again, the thank-you is queued after commit unless the payment is history
    (invariant 10; `thank_you=False`: never) and an instalment may complete its agreement;
    more than the invoice's amount leaves the excess on record and gives the team a task to
    refund or credit it. Raises PaymentError, writing nothing, for an amount that is not
    positive or passes the bound of `payments/amounts.py` (alone, or in the invoice's amount
    paid), a future date, or a cancelled invoice."""
    payment_follow_ups()  # configured, before anything is written
    now = timezone.now()
    paid_at = paid_at or now
    refused = amount_refusal(amount)
    if refused:
        raise PaymentError(refused)
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
        # Read locked: concurrent payments cannot together pass the bound (payments/amounts.py).
        refused = payment_refusal(invoice=invoice, amount=amount)
        if refused:
            raise PaymentError(refused)
        payment = Payment.objects.create(
            tenant=tenant,
            invoice=invoice,
            external_id=external_id or None,
            amount=amount,
            paid_at=paid_at,
            source=source,
            recorded_by=actor,
        )
        excess_before = max(invoice.amount_paid - invoice.amount, 0)
        invoice.amount_paid += amount
        fields = ["amount_paid", "updated_at"]
        became_paid = invoice.status == InvoiceStatus.OPEN and invoice.amount_paid >= invoice.amount
        if became_paid:
            fields += invoice_paid_in_full(tenant=tenant, invoice=invoice, paid_at=paid_at)
        invoice.save(update_fields=fields)
        fact = PaymentFact(
            invoice=invoice,
            payment=payment,
            paid_in_full=became_paid,
            excess=invoice.amount_paid - invoice.amount - excess_before,
        )
        payments_follow_up(
            PaymentsRecorded(tenant=tenant, now=now, payments=(fact,), thank_you=thank_you)
        )
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
