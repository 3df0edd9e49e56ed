"""Reads of the collections domain: the DESIGN metrics, computed in the database."""

from datetime import date, timedelta
from decimal import Decimal

from django.db.models import (
    Case,
    DecimalField,
    F,
    IntegerField,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from collections_app.models import (
    DailyStat,
    FollowUpTask,
    FunnelStat,
    Interaction,
    Invoice,
    InvoiceStatus,
    LadderStep,
    Segment,
    TaskStatus,
)
from tenants.models import Tenant

ZERO = Value(Decimal("0"), output_field=DecimalField(max_digits=14, decimal_places=2))
AGING_BUCKETS = [
    ("1_15", 1, 15),
    ("16_30", 16, 30),
    ("31_60", 31, 60),
    ("61_90", 61, 90),
    ("90_plus", 91, None),
]


def _ratio(part, whole) -> float | None:
    if not whole:
        return None
    return round(float(Decimal(part or 0) / Decimal(whole)), 4)


def _money(value) -> str:
    return str((value or Decimal("0")).quantize(Decimal("0.01")))


def _remaining():
    return F("amount") - F("amount_paid")


def _live(segment_id: int | None = None):
    """Invoices the metrics count: not cancelled nor written off; of one segment if given."""
    live = Invoice.objects.exclude(status__in=[InvoiceStatus.CANCELLED, InvoiceStatus.WRITTEN_OFF])
    if segment_id is not None:
        live = live.filter(customer__segment_id=segment_id)
    return live


def metrics_compute(
    *, tenant: Tenant, date_from: date, date_to: date, today: date, segment_id: int | None = None
) -> dict:
    """The DESIGN metric definitions for [date_from, date_to], as a flat dict: rates as
    fractions (None when nothing to measure), amounts as decimal strings. Cancelled and
    written-off invoices are left out; due dates are effective due dates. With `segment_id`,
    only that segment's customers count.

    Read from the daily rollups (`DailyStat`, kept by `collections_app.stats.rollups`): a period
    costs the rows of its days, not its invoices. tests/metrics_oracle.py computes the same figures
    from the invoices, and the tests check the two agree."""
    stats = DailyStat.objects.filter(tenant=tenant)
    if segment_id is not None:
        stats = stats.filter(segment_id=segment_id)
    period = Q(day__range=(date_from, date_to))
    # "Not paid in full by the due date" can only be said once the due date has passed.
    past = Q(day__lt=today)
    s = stats.aggregate(
        n=Coalesce(Sum("due_n", filter=period), 0),
        due_amount=Coalesce(Sum("due_amount", filter=period), ZERO),
        on_time_n=Coalesce(Sum("on_time_n", filter=period), 0),
        on_time_amount=Coalesce(Sum("on_time_amount", filter=period), ZERO),
        late_n=Coalesce(Sum("late_n", filter=period & past), 0),
        late_amount=Coalesce(Sum("late_amount", filter=period & past), ZERO),
        late_recovered=Coalesce(Sum("late_recovered", filter=period & past), ZERO),
        late_recovered_n=Coalesce(Sum("late_paid_n", filter=period & past), 0),
        overdue_now_amount=Coalesce(Sum("open_remaining", filter=period & past), ZERO),
        paid_n=Coalesce(Sum("paid_n", filter=period), 0),
        paid_days_to_pay=Coalesce(Sum("paid_days_to_pay", filter=period), 0),
        paid_days_late=Coalesce(Sum("paid_days_late", filter=period), 0),
        receivables=Coalesce(Sum("open_remaining"), ZERO),
        overdue=Coalesce(Sum("open_remaining", filter=past), ZERO),
        invoiced_90=Coalesce(
            Sum("issued_amount", filter=Q(day__range=(date_to - timedelta(days=89), date_to))),
            ZERO,
        ),
        **{
            f"aging_{name}": Coalesce(
                Sum(
                    "open_remaining",
                    filter=Q(day__lte=today - timedelta(days=low))
                    & (Q(day__gte=today - timedelta(days=high)) if high is not None else Q()),
                ),
                ZERO,
            )
            for name, low, high in AGING_BUCKETS
        },
    )
    dso = None
    if s["invoiced_90"]:
        dso = round(float(s["receivables"] / s["invoiced_90"] * 90), 1)

    def _avg(total):
        return round(float(Decimal(total) / s["paid_n"]), 2) if s["paid_n"] else None

    return {
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "invoices_due": s["n"],
        "amount_due": _money(s["due_amount"]),
        "recovery_rate": _ratio(s["late_recovered"], s["late_amount"]),
        "recovery_count_rate": _ratio(s["late_recovered_n"], s["late_n"]),
        "avg_days_to_pay": _avg(s["paid_days_to_pay"]),
        "avg_days_late": _avg(s["paid_days_late"]),
        "on_time_rate": _ratio(s["on_time_n"], s["n"]),
        "on_time_amount_rate": _ratio(s["on_time_amount"], s["due_amount"]),
        "default_rate": _ratio(s["overdue_now_amount"], s["due_amount"]),
        "overdue_amount": _money(s["overdue"]),
        "open_receivables": _money(s["receivables"]),
        "dso": dso,
        **{f"aging_{name}": _money(s[f"aging_{name}"]) for name, _low, _high in AGING_BUCKETS},
    }


def metrics_with_previous(
    *, tenant: Tenant, date_from: date, date_to: date, today: date, segment_id: int | None = None
) -> dict:
    """The period's metrics and, under `previous`, those of the period of equal length before."""
    length = (date_to - date_from).days + 1
    prev_to = date_from - timedelta(days=1)
    prev_from = prev_to - timedelta(days=length - 1)
    current = metrics_compute(
        tenant=tenant, date_from=date_from, date_to=date_to, today=today, segment_id=segment_id
    )
    current["previous"] = metrics_compute(
        tenant=tenant, date_from=prev_from, date_to=prev_to, today=today, segment_id=segment_id
    )
    return current


def recovery_by_month(
    *, tenant: Tenant, months: int, today: date, segment_id: int | None = None
) -> list[dict]:
    """Recovery over time: for each of the last `months` calendar months (by effective due
    date, up to today), the amount of the invoices that were not paid in full by their due
    date and the share of it recovered since — `recovery_rate` month by month. From the
    daily rollups."""
    first = date(today.year, today.month, 1)
    for _ in range(months - 1):
        first = date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)
    stats = DailyStat.objects.filter(tenant=tenant, day__gte=first, day__lt=today)
    if segment_id is not None:
        stats = stats.filter(segment_id=segment_id)
    by_month: dict[tuple[int, int], list[Decimal]] = {}
    for day, late, recovered in stats.values_list("day", "late_amount", "late_recovered"):
        totals = by_month.setdefault((day.year, day.month), [Decimal("0"), Decimal("0")])
        totals[0] += late
        totals[1] += recovered
    out, month = [], first
    while month <= today:
        late, recovered = by_month.get((month.year, month.month), (Decimal("0"), Decimal("0")))
        out.append(
            {
                "month": month,
                "late_amount": _money(late),
                "recovered": _money(recovered),
                "recovery_rate": _ratio(recovered, late),
            }
        )
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return out


def interactions_recent(*, tenant: Tenant, limit: int = 20):
    return Interaction.objects.select_related("customer", "invoice", "actor").order_by(
        "-occurred_at", "-id"
    )[:limit]


def tasks_open_for(*, tenant: Tenant, user, limit: int = 10):
    """Open follow-up tasks for the dashboard: the user's own first, then the unassigned, then
    the rest; the most urgent (earliest due) first within each."""
    mine_first = Case(
        When(assignee_id=user.pk, then=Value(0)),
        When(assignee__isnull=True, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return (
        FollowUpTask.objects.filter(status=TaskStatus.OPEN)
        .select_related("customer", "invoice", "assignee")
        .annotate(rank=mine_first)
        .order_by("rank", "due_on", "id")[:limit]
    )


def timeline_for_invoice(*, tenant: Tenant, invoice: Invoice):
    """The invoice's timeline rows, newest first (the page folds each message's rows into one
    entry with its text: `web.timeline`)."""
    return (
        Interaction.objects.filter(invoice=invoice)
        .select_related("actor", "invoice")
        .order_by("-occurred_at", "-id")
    )


def recovery_by_step(
    *, tenant: Tenant, date_from: date, date_to: date, segment_id: int | None = None
) -> list[dict]:
    """Per step, channel and segment, for the reminders sent in [date_from, date_to] (the
    tenant's days): how many were sent, delivered and clicked, and the payments attributed
    to them (the last message or click within 7 days before the payment) with the amount they
    recovered. Read from the funnel rollups (`FunnelStat`)."""
    stats = FunnelStat.objects.filter(tenant=tenant, day__range=(date_from, date_to))
    if segment_id is not None:
        stats = stats.filter(segment_id=segment_id)
    rows = list(
        stats.values("step_id", "channel", "segment_id")
        .annotate(
            sent=Sum("sent"),
            delivered=Sum("delivered"),
            clicked=Sum("clicked"),
            payments=Sum("paid"),
            recovered_amount=Coalesce(Sum("recovered"), ZERO),
        )
        .order_by("step_id", "channel", "segment_id")
    )
    steps = {
        s.pk: s
        for s in LadderStep.objects.filter(pk__in={r["step_id"] for r in rows}).select_related(
            "ladder"
        )
    }
    segments = dict(
        Segment.objects.filter(pk__in={r["segment_id"] for r in rows}).values_list("pk", "name")
    )
    out = []
    for r in rows:
        step = steps.get(r["step_id"])
        out.append(
            {
                "step_id": step.pk if step else None,
                "step": step.label if step else None,
                "offset_days": step.offset_days if step else None,
                "ladder": step.ladder.name if step else None,
                "channel": r["channel"],
                "segment_id": r["segment_id"] or None,
                "segment": segments.get(r["segment_id"]),
                "sent": r["sent"],
                "delivered": r["delivered"],
                "clicked": r["clicked"],
                "payments": r["payments"],
                "recovered_amount": _money(r["recovered_amount"]),
                "click_rate": _ratio(r["clicked"], r["sent"]),
                "payment_rate": _ratio(r["payments"], r["sent"]),
            }
        )
    return out
