"""What the overdue queue and the customer list show, read set-based: a few queries for a
page, whatever its number of rows (never one query per row)."""

from datetime import date
from decimal import Decimal

from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from collections_app.calendar import BusinessCalendar
from collections_app.documents import document_normalize
from collections_app.models import (
    Customer,
    DayKind,
    Dispatch,
    Interaction,
    InteractionKind,
    Invoice,
    InvoiceStatus,
    Ladder,
    LadderStep,
    PaymentPromise,
    PromiseStatus,
)
from tenants.models import Tenant

# What counts as a contact with the customer: a message, a call, a note, their reply (a pause's
# note is no contact).
PAUSE_KEYS = ("paused_until", "customer_paused_until")
CONTACT_KINDS = (
    InteractionKind.MESSAGE,
    InteractionKind.CALL,
    InteractionKind.NOTE,
    InteractionKind.REPLY,
)
_MONEY = DecimalField(max_digits=16, decimal_places=2)
_DUE = ExpressionWrapper(F("amount") - F("amount_paid"), output_field=_MONEY)


def queue_totals(qs: QuerySet) -> dict:
    """The count and the amount due of a filtered list of invoices, in one query."""
    totals = qs.order_by().aggregate(count=Count("id"), total=Sum(_DUE))
    return {"count": totals["count"], "total": totals["total"] or Decimal("0")}


def queue_rows_enrich(*, tenant: Tenant, invoices: list[Invoice], today: date) -> list[Invoice]:
    """Give each invoice of a page what the queue shows: `days_overdue`, `last_contact`
    ({"at", "kind", "channel"} or None), `promise_date` (an open promise's), and `next_step`
    ({"label", "kind", "channels", "task_title", "date"} or None: the first active step of
    the invoice's ladder, by offset, with no ledger row for its day and a day today or later),
    and `ladder_end` ({"label", "date"} of the ladder's last step, or None) for an open invoice
    past its ladder's last step: it has no next step, and the queue says so.

    Four queries, whatever the number of rows. Must run inside the tenant's scope."""
    if not invoices:
        return invoices
    ids = [inv.pk for inv in invoices]
    contact = (
        Interaction.objects.filter(invoice_id=OuterRef("pk"), kind__in=CONTACT_KINDS)
        .exclude(data__has_any_keys=PAUSE_KEYS)
        .order_by("-occurred_at", "-id")
    )
    promise = PaymentPromise.objects.filter(
        invoice_id=OuterRef("pk"), status=PromiseStatus.OPEN
    ).order_by("-promised_date")
    facts = {
        row["pk"]: row
        for row in Invoice.objects.filter(pk__in=ids)
        .annotate(
            contact_at=Subquery(contact.values("occurred_at")[:1]),
            contact_kind=Subquery(contact.values("kind")[:1]),
            contact_channel=Subquery(contact.values("channel")[:1]),
            promise_date=Subquery(promise.values("promised_date")[:1]),
        )
        .values("pk", "contact_at", "contact_kind", "contact_channel", "promise_date")
    }
    # The ladder of each invoice: its customer's segment's, else the tenant's default.
    default_ids = list(Ladder.objects.filter(is_default=True).values_list("id", flat=True)[:1])
    default_id = default_ids[0] if default_ids else None
    ladder_of = {}
    for inv in invoices:
        segment = inv.customer.segment if inv.customer.segment_id else None
        ladder_of[inv.pk] = segment.ladder_id if segment is not None else default_id
    steps_by_ladder: dict[int, list[LadderStep]] = {}
    for step in LadderStep.objects.filter(
        ladder_id__in={v for v in ladder_of.values() if v}, active=True
    ).order_by("offset_days", "id"):
        steps_by_ladder.setdefault(step.ladder_id, []).append(step)
    done: dict[int, set] = {}
    for inv_id, offset, day_kind in Dispatch.objects.filter(invoice_id__in=ids).values_list(
        "invoice_id", "step__offset_days", "step__day_kind"
    ):
        done.setdefault(inv_id, set()).add((offset, day_kind))
    calendar = BusinessCalendar.for_tenant(tenant)

    for inv in invoices:
        row = facts.get(inv.pk, {})
        inv.days_overdue = (
            (today - inv.effective_due_date).days
            if inv.status == InvoiceStatus.OPEN and inv.effective_due_date < today
            else 0
        )
        inv.last_contact = (
            {
                "at": row["contact_at"],
                "kind": row["contact_kind"],
                "kind_label": InteractionKind(row["contact_kind"]).label,
                "channel": row["contact_channel"],
            }
            if row.get("contact_at")
            else None
        )
        inv.promise_date = row.get("promise_date")
        inv.next_step = inv.ladder_end = None
        if inv.status != InvoiceStatus.OPEN:
            continue
        steps = steps_by_ladder.get(ladder_of[inv.pk], [])
        for step in steps:
            if (step.offset_days, step.day_kind) in done.get(inv.pk, ()):
                continue
            day = calendar.step_date(
                inv.effective_due_date, step.offset_days, step.day_kind == DayKind.BUSINESS
            )
            if day is None or day < today:
                continue
            inv.next_step = {
                "label": step.label,
                "kind": step.kind,
                "channels": list(step.channels),
                "task_title": step.task_title,
                "date": day,
            }
            break
        if inv.next_step is None and steps:
            inv.ladder_end = _ladder_end(inv, steps, calendar)
    return invoices


def _ladder_end(invoice: Invoice, steps: list[LadderStep], calendar) -> dict:
    """The invoice's ladder's last step, by its day for this invoice: {"label", "date"}."""
    dated = [
        (
            calendar.step_date(
                invoice.effective_due_date, step.offset_days, step.day_kind == DayKind.BUSINESS
            ),
            step,
        )
        for step in steps
    ]
    day, last = max(
        ((d, s) for d, s in dated if d is not None),
        key=lambda pair: pair[0],
        default=(None, steps[-1]),
    )
    return {"label": last.label, "date": day}


CUSTOMER_SORTS = {
    "name": ("name", "id"),
    "-open": ("-open_balance", "name", "id"),
    "-overdue": ("-overdue_amount", "name", "id"),
    "-contact": (F("last_contact").desc(nulls_last=True), "name", "id"),
    "contact": (F("last_contact").asc(nulls_first=True), "name", "id"),
}


def customers_with_balances(*, today: date, q: str = "", sort: str = "-overdue") -> QuerySet:
    """The tenant's customers with `open_balance`, `overdue_amount` (open invoices past their
    effective due date) and `last_contact` (the latest message, call, note or reply), searched
    by name or CPF/CNPJ and sorted by one of CUSTOMER_SORTS. One query per page (plus the
    count). Must run inside the tenant's scope."""
    zero = Value(Decimal("0"), output_field=_MONEY)
    open_q = Q(invoices__status=InvoiceStatus.OPEN)
    due = ExpressionWrapper(F("invoices__amount") - F("invoices__amount_paid"), output_field=_MONEY)
    contact = (
        Interaction.objects.filter(customer_id=OuterRef("pk"), kind__in=CONTACT_KINDS)
        .exclude(data__has_any_keys=PAUSE_KEYS)
        .order_by("-occurred_at")
        .values("occurred_at")[:1]
    )
    qs = Customer.objects.select_related("segment").annotate(
        open_balance=Coalesce(Sum(due, filter=open_q), zero),
        overdue_amount=Coalesce(
            Sum(due, filter=open_q & Q(invoices__effective_due_date__lt=today)), zero
        ),
        last_contact=Subquery(contact),
    )
    if "\x00" in q:
        return qs.none()
    if q:
        match = Q(name__icontains=q)
        try:
            match |= Q(document=document_normalize(q))
        except ValueError:
            pass
        qs = qs.filter(match)
    return qs.order_by(*CUSTOMER_SORTS.get(sort, CUSTOMER_SORTS["-overdue"]))


def customer_open_balance(*, customer: Customer, today: date) -> dict:
    """The customer's open balance and the part of it overdue, in one query."""
    open_invoices = Invoice.objects.filter(customer=customer, status=InvoiceStatus.OPEN)
    totals = open_invoices.order_by().aggregate(
        open=Sum(_DUE), overdue=Sum(_DUE, filter=Q(effective_due_date__lt=today))
    )
    return {"open": totals["open"] or Decimal("0"), "overdue": totals["overdue"] or Decimal("0")}


def document_display(document: str) -> str:
    """A CPF or CNPJ as people write it: 123.456.789-09, 12.345.678/0001-95."""
    value = (document or "").strip()
    if len(value) == 11 and value.isdigit():
        return f"{value[:3]}.{value[3:6]}.{value[6:9]}-{value[9:]}"
    if len(value) == 14:
        return f"{value[:2]}.{value[2:5]}.{value[5:8]}/{value[8:12]}-{value[12:]}"
    return value
