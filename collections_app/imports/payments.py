"""Payments from an imported history: a spreadsheet's paid date (and paid amount) recorded as
the invoice's payment, set-based — a few statements per chunk of invoices, however many.

The payment is kept with source "import"; the invoice's amount paid grows and, paid in full, it
becomes paid with the same figures as any payment (`invoice_paid_in_full`). What follows is the
one list every payment goes through (`payments/after_payment.py`), run once for the chunk as a
batch of history (`Recording.HISTORY`): attribution, the timeline, the ladder stopping (queued
reminders cancelled, promises kept, the ladder's calls closed), the customers classified, an
agreement completed. History is not news (DESIGN invariant 10): that list sends no thank-you and
no `payment.received` webhook for it."""

from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from collections_app.invoices.bulk_update import values_update
from collections_app.models import Invoice, InvoiceStatus, Payment, PaymentSource
from collections_app.payments.services import (
    PAID_FIELDS,
    PaymentFact,
    PaymentsRecorded,
    Recording,
    invoice_paid_in_full,
    payment_follow_ups,
    payments_follow_up,
)
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
    refresh_stats: bool = False,
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
    `classify=False` and runs `customers_classify` once for their customers. The dashboard's
    rollups of the days written are the caller's to refresh once for the whole file (the
    importer and `seed_demo` do), unless it passes `refresh_stats=True`. Returns how many
    payments were made."""
    if not items:
        return 0
    payment_follow_ups()  # configured, before anything is written
    with transaction.atomic():
        return _payments_import(
            tenant=tenant, items=items, classify=classify, refresh_stats=refresh_stats
        )


def _payments_import(
    *,
    tenant: Tenant,
    items: Sequence[tuple[Invoice, date, Decimal | None]],
    classify: bool,
    refresh_stats: bool,
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
    paid_in_full: list[bool] = []
    changed: dict[int, Invoice] = {}
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
        became_paid = invoice.amount_paid >= invoice.amount
        if became_paid:
            invoice_paid_in_full(tenant=tenant, invoice=invoice, paid_at=paid_at)
        paid_in_full.append(became_paid)
        changed[invoice.pk] = invoice
    if not payments:
        return 0
    Payment.objects.bulk_create(payments, batch_size=1000)
    values_update(Invoice, changed.values(), ["amount_paid", "updated_at", *PAID_FIELDS])
    # Never more than what is due (above): an imported payment leaves no excess.
    facts = tuple(
        PaymentFact(invoice=p.invoice, payment=p, paid_in_full=full, excess=Decimal(0))
        for p, full in zip(payments, paid_in_full, strict=True)
    )
    payments_follow_up(
        PaymentsRecorded(
            tenant=tenant,
            now=now,
            payments=facts,
            recording=Recording.HISTORY,
            thank_you=False,
            classify=classify,
            refresh_stats=refresh_stats,
        )
    )
    return len(payments)
