"""Payments from an imported history: a spreadsheet's paid date (and paid amount) recorded as
the invoice's payment, set-based — a few statements per chunk of invoices, however many.

The domain rules are `services.invoice_record_payment`'s: the payment is kept with source
"import" and its timeline entry; the invoice's amount paid grows and, paid in full, it becomes
paid with the same figures (`invoice_paid_in_full`), its queued reminders are cancelled, its
open promises kept, the ladder's open calls about it closed and its customer's behaviour class
recomputed; a payment that follows a reminder is attributed to it. What differs is what history
must not do (DESIGN invariant 10): no thank-you, no `payment.received` webhook — an imported
history is not news."""

from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from collections_app.activity.messages import cancel_queued_reminders
from collections_app.invoices.bulk_update import values_update
from collections_app.invoices.segments import customers_classify
from collections_app.models import (
    FollowUpTask,
    Interaction,
    InteractionKind,
    Invoice,
    InvoiceMessage,
    InvoiceStatus,
    Payment,
    PaymentPromise,
    PaymentSource,
    PromiseStatus,
    TaskStatus,
)
from collections_app.money import format_money
from collections_app.payments.agreements import agreement_instalment_paid
from collections_app.payments.services import PAID_FIELDS, invoice_paid_in_full, payment_attribute
from messaging.models import Message, MessagePurpose, MessageStatus
from tenants.models import Tenant


def paid_at_for(*, tenant: Tenant, day: date, now: datetime | None = None) -> datetime:
    """A paid date as the moment recorded: midday in the tenant's timezone, so the day is the
    same wherever it is read (as bank credits are recorded) — or now, for a payment made
    today before midday: a paid_at is never in the future."""
    return min(
        datetime.combine(day, time(12), tzinfo=ZoneInfo(tenant.timezone)),
        now or timezone.now(),
    )


def payments_import(
    *,
    tenant: Tenant,
    items: Sequence[tuple[Invoice, date, Decimal | None]],
    classify: bool = True,
) -> int:
    """Record each (invoice, paid date, paid amount or None) as history. The paid amount is
    what the file says has been paid on the invoice *in total* so far (ERPs export the running
    total: 50,00 in November's file, 80,00 in December's), so what is recorded is the part
    Régua does not have yet — the paid amount less the amount already paid, by any means —
    and, without a paid amount, what is still open. Importing the same file again, or a later
    export that repeats earlier payments, records nothing twice; nothing is recorded for an
    invoice that is not open (the import refuses the rows of cancelled and written-off ones
    before writing). `invoice` is as `invoices_upsert` returned it: its amount paid and status
    are read again under a row lock, so a payment the API, Pix or a bank file records
    meanwhile is counted, never overwritten. A caller recording many chunks passes
    `classify=False` and runs `customers_classify` once for their customers. Returns how many
    payments were made."""
    if not items:
        return 0
    with transaction.atomic():
        return _payments_import(tenant=tenant, items=items, classify=classify)


def _payments_import(
    *, tenant: Tenant, items: Sequence[tuple[Invoice, date, Decimal | None]], classify: bool
) -> int:
    ids = [invoice.pk for invoice, _day, _amount in items]
    current = {
        row["pk"]: row
        for row in Invoice.objects.select_for_update()
        .filter(pk__in=ids)
        .order_by("pk")
        .values("pk", "amount_paid", *PAID_FIELDS)
    }
    now = timezone.now()
    payments: list[Payment] = []
    changed: dict[int, Invoice] = {}
    became_paid: list[Invoice] = []
    for invoice, day, total_paid in items:
        state = current.get(invoice.pk)
        if state is None:
            continue
        for name in ("amount_paid", *PAID_FIELDS):
            setattr(invoice, name, state[name])
        if invoice.status != InvoiceStatus.OPEN:
            continue
        if total_paid is None:
            amount = invoice.amount_due
        else:
            amount = min(max(total_paid - invoice.amount_paid, Decimal(0)), invoice.amount_due)
        if amount <= 0:
            continue
        paid_at = paid_at_for(tenant=tenant, day=day, now=now)
        payments.append(
            Payment(
                tenant=tenant,
                invoice=invoice,
                amount=amount,
                paid_at=paid_at,
                source=PaymentSource.IMPORT,
                created_at=now,
            )
        )
        invoice.amount_paid += amount
        invoice.updated_at = now
        if invoice.amount_paid >= invoice.amount:
            invoice_paid_in_full(tenant=tenant, invoice=invoice, paid_at=paid_at)
            became_paid.append(invoice)
        changed[invoice.pk] = invoice
    if not payments:
        return 0
    Payment.objects.bulk_create(payments, batch_size=1000)
    values_update(Invoice, changed.values(), ["amount_paid", "updated_at", *PAID_FIELDS])
    Interaction.objects.bulk_create(
        [
            Interaction(
                tenant=tenant,
                customer_id=p.invoice.customer_id,
                invoice=p.invoice,
                kind=InteractionKind.PAYMENT,
                summary=f"{format_money(p.amount, p.invoice.currency, tenant.locale)} ({p.source})",
                data={"payment_id": p.pk, "amount": str(p.amount), "source": p.source},
                occurred_at=p.paid_at,
            )
            for p in payments
        ],
        batch_size=1000,
    )
    _attribute(payments)
    if became_paid:
        _paid_in_full(tenant=tenant, invoices=became_paid, now=now)
        if classify:
            customers_classify(tenant=tenant, customer_ids={i.customer_id for i in became_paid})
    return len(payments)


def _attribute(payments: list[Payment]) -> None:
    """Attribution needs the invoice's reminders: only those few invoices are looked at."""
    reminded = set(
        InvoiceMessage.objects.filter(
            invoice_id__in=[p.invoice_id for p in payments],
            message__purpose=MessagePurpose.REMINDER,
        ).values_list("invoice_id", flat=True)
    )
    for payment in payments:
        if payment.invoice_id in reminded:
            payment_attribute(payment=payment, invoice=payment.invoice)


def _paid_in_full(*, tenant: Tenant, invoices: list[Invoice], now: datetime) -> None:
    """What follows full payment, for many invoices at once (no thank-you: history)."""
    ids = [invoice.pk for invoice in invoices]
    queued = set(
        Message.objects.filter(
            invoice_links__invoice_id__in=ids,
            status=MessageStatus.QUEUED,
            purpose=MessagePurpose.REMINDER,
        ).values_list("invoice_links__invoice_id", flat=True)
    )
    for invoice in invoices:
        if invoice.pk in queued:
            cancel_queued_reminders(tenant=tenant, invoice=invoice, reason="invoice_paid")
    PaymentPromise.objects.filter(invoice_id__in=ids, status=PromiseStatus.OPEN).update(
        status=PromiseStatus.KEPT, resolved_at=now
    )
    FollowUpTask.objects.filter(
        invoice_id__in=ids, status=TaskStatus.OPEN, origin__in=["step", "escalation"]
    ).update(status=TaskStatus.CANCELLED, completed_at=now)
    for invoice in invoices:
        if invoice.agreement_id is not None:
            agreement_instalment_paid(tenant=tenant, invoice=invoice)
