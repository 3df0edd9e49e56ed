"""The DESIGN metric definitions computed straight from the invoices: the reference the
dashboard's rollups (`collections_app.stats.rollups`) are checked against."""

from datetime import date, timedelta

from django.db.models import Avg, Count, F, Q, Sum
from django.db.models.functions import Coalesce, Least

from collections_app.models import InvoiceStatus
from collections_app.stats.selectors import AGING_BUCKETS, ZERO, _live, _money, _ratio, _remaining
from tenants.models import Tenant


def metrics_from_invoices(
    *, tenant: Tenant, date_from: date, date_to: date, today: date, segment_id: int | None = None
) -> dict:
    """The DESIGN metric definitions for [date_from, date_to], as a flat dict: rates as
    fractions (None when nothing to measure), amounts as decimal strings. Cancelled and
    written-off invoices are left out; due dates are effective due dates. With `segment_id`,
    only that segment's customers count."""
    live = _live(segment_id)
    paid_in_period = live.filter(status=InvoiceStatus.PAID, paid_on__range=(date_from, date_to))
    speed = paid_in_period.aggregate(
        avg_days_to_pay=Avg("days_to_pay"), avg_days_late=Avg("days_late")
    )

    due = live.filter(effective_due_date__range=(date_from, date_to))
    on_time = Q(status=InvoiceStatus.PAID, paid_on__lte=F("effective_due_date"))
    # "Not paid in full by the due date" can only be said once the due date has passed.
    late = ~on_time & Q(effective_due_date__lt=today)
    overdue_now = Q(status=InvoiceStatus.OPEN, effective_due_date__lt=today)
    capped_paid = Least(F("amount_paid"), F("amount"))
    d = due.aggregate(
        n=Count("id"),
        due_amount=Coalesce(Sum("amount"), ZERO),
        on_time_n=Count("id", filter=on_time),
        on_time_amount=Coalesce(Sum("amount", filter=on_time), ZERO),
        late_n=Count("id", filter=late),
        late_amount=Coalesce(Sum("amount", filter=late), ZERO),
        late_recovered=Coalesce(Sum(capped_paid, filter=late), ZERO),
        late_recovered_n=Count("id", filter=late & Q(status=InvoiceStatus.PAID)),
        overdue_now_amount=Coalesce(Sum(_remaining(), filter=overdue_now), ZERO),
    )

    open_now = live.filter(status=InvoiceStatus.OPEN)
    buckets = {}
    for name, low, high in AGING_BUCKETS:
        cond = Q(effective_due_date__lte=today - timedelta(days=low))
        if high is not None:
            cond &= Q(effective_due_date__gte=today - timedelta(days=high))
        buckets[f"aging_{name}"] = Coalesce(Sum(_remaining(), filter=cond), ZERO)
    o = open_now.aggregate(
        receivables=Coalesce(Sum(_remaining()), ZERO),
        overdue=Coalesce(Sum(_remaining(), filter=Q(effective_due_date__lt=today)), ZERO),
        **buckets,
    )
    invoiced_90 = live.filter(issue_date__range=(date_to - timedelta(days=89), date_to)).aggregate(
        total=Coalesce(Sum("amount"), ZERO)
    )["total"]
    dso = None
    if invoiced_90:
        dso = round(float(o["receivables"] / invoiced_90 * 90), 1)

    def _avg(value):
        return None if value is None else round(float(value), 2)

    return {
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "invoices_due": d["n"],
        "amount_due": _money(d["due_amount"]),
        "recovery_rate": _ratio(d["late_recovered"], d["late_amount"]),
        "recovery_count_rate": _ratio(d["late_recovered_n"], d["late_n"]),
        "avg_days_to_pay": _avg(speed["avg_days_to_pay"]),
        "avg_days_late": _avg(speed["avg_days_late"]),
        "on_time_rate": _ratio(d["on_time_n"], d["n"]),
        "on_time_amount_rate": _ratio(d["on_time_amount"], d["due_amount"]),
        "default_rate": _ratio(d["overdue_now_amount"], d["due_amount"]),
        "overdue_amount": _money(o["overdue"]),
        "open_receivables": _money(o["receivables"]),
        "dso": dso,
        **{name: _money(o[name]) for name in buckets},
    }
