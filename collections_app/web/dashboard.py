"""The dashboard: the period's figures against the previous period, aging, recovery by month
and by step, the latest interactions and the user's tasks."""

from datetime import timedelta

from django.contrib import messages
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from collections_app.api.fields import DATE_MAX, DATE_MIN
from collections_app.models import (
    DailyStat,
    FollowUpTask,
    Segment,
    TaskStatus,
)
from collections_app.money import format_day, format_money, format_month, format_percent
from collections_app.stats.selectors import (
    interactions_recent,
    metrics_with_previous,
    recovery_by_month,
    recovery_by_step,
    tasks_open_for,
)
from collections_app.web.charts import Series, funnel, money_bar_charts, short_money
from messaging.models import Message
from tenants.decorators import tenant_required
from tenants.selectors import tenant_today

# The longest period the dashboard compares with the one before it: ten years, within the
# API's dates (so the previous period, of equal length, stays in the calendar too).
PERIOD_MAX = timedelta(days=3653)


def _query_day(request, name: str):
    try:
        return parse_date(request.GET.get(name) or "")
    except ValueError:  # well formed but no day of the calendar: 2026-02-30
        return None


def dashboard_period(request, today):
    """The period the query asks for (`from`, `to`), the last 30 days by default. Dates
    beyond the API's range are brought into it and a period longer than PERIOD_MAX is
    shortened to end on `to`, with a message saying which period is shown."""
    date_to = _query_day(request, "to") or today
    date_from = _query_day(request, "from") or date_to - timedelta(days=29)
    if date_from > date_to:
        date_from, date_to = date_to, date_from
    asked = (date_from, date_to)
    date_to = min(max(date_to, DATE_MIN), DATE_MAX)
    date_from = max(date_from, DATE_MIN, date_to - PERIOD_MAX)
    if (date_from, date_to) != asked:
        messages.warning(
            request,
            _(
                "The period can be at most ten years, from %(min)s to %(max)s: showing "
                "%(from)s to %(to)s."
            )
            % {
                "min": format_day(DATE_MIN, request.tenant.locale),
                "max": format_day(DATE_MAX, request.tenant.locale),
                "from": format_day(date_from, request.tenant.locale),
                "to": format_day(date_to, request.tenant.locale),
            },
        )
    return date_from, date_to


def _aging_chart(aging, locale: str) -> dict:
    """Overdue amount by days-past-due bucket: one bar each, its short amount above it."""
    amounts = [float(amount) for _label, amount in aging]
    return money_bar_charts(
        [label for label, _amount in aging],
        [
            Series(
                _("Overdue amount"),
                amounts,
                [
                    _("%(days)s days: %(amount)s")
                    % {"days": label, "amount": format_money(amount, "BRL", locale)}
                    for label, amount in aging
                ],
            )
        ],
        value_labels=[short_money(amount, "BRL", locale) for amount in amounts],
        summary="; ".join(
            f"{label}: {format_money(amount, 'BRL', locale)}" for label, amount in aging
        ),
        locale=locale,
    )


def _recovery_chart(months, locale: str) -> dict:
    """Recovery over time: each month's late amount beside the part of it recovered, with the
    recovery rate above the pair."""
    names = [format_month(row["month"], locale) for row in months]

    def series(name, key, tone):
        return Series(
            name,
            [float(row[key]) for row in months],
            [
                f"{month} — {name}: {format_money(row[key], 'BRL', locale)}"
                for month, row in zip(names, months, strict=True)
            ],
            tone,
        )

    return money_bar_charts(
        names,
        [series(_("Late"), "late_amount", "late"), series(_("Recovered"), "recovered", "brand")],
        value_labels=[
            "" if row["recovery_rate"] is None else f"{float(row['recovery_rate']) * 100:.0f}%"
            for row in months
        ],
        locale=locale,
        summary="; ".join(
            _("%(month)s: late %(late)s, recovered %(recovered)s (%(rate)s)")
            % {
                "month": month,
                "late": format_money(row["late_amount"], "BRL", locale),
                "recovered": format_money(row["recovered"], "BRL", locale),
                "rate": format_percent(row["recovery_rate"], locale),
            }
            for month, row in zip(names, months, strict=True)
        ),
    )


@require_GET
@tenant_required()
def dashboard(request):
    tenant = request.tenant
    today = tenant_today(tenant=tenant)
    date_from, date_to = dashboard_period(request, today)
    segments = list(Segment.objects.order_by("priority", "id"))
    segment = next((s for s in segments if str(s.pk) == request.GET.get("segment")), None)
    segment_id = segment.pk if segment else None
    metrics = metrics_with_previous(
        tenant=tenant, date_from=date_from, date_to=date_to, today=today, segment_id=segment_id
    )
    aging = [
        ("1–15", metrics["aging_1_15"]),
        ("16–30", metrics["aging_16_30"]),
        ("31–60", metrics["aging_31_60"]),
        ("61–90", metrics["aging_61_90"]),
        ("90+", metrics["aging_90_plus"]),
    ]
    months = recovery_by_month(tenant=tenant, months=6, today=today, segment_id=segment_id)
    steps = recovery_by_step(
        tenant=tenant, date_from=date_from, date_to=date_to, segment_id=segment_id
    )
    context = {
        "metrics": metrics,
        "previous": metrics["previous"],
        "date_from": date_from,
        "date_to": date_to,
        "segments": segments,
        "segment": segment,
        "interactions": interactions_recent(tenant=tenant, limit=25),
        "open_tasks": FollowUpTask.objects.filter(status=TaskStatus.OPEN).count(),
        "tasks": tasks_open_for(tenant=tenant, user=request.user),
        "overdue_count": DailyStat.objects.filter(day__lt=today).aggregate(
            n=Coalesce(Sum("open_n"), 0)
        )["n"],
        "messages_today": Message.objects.filter(
            created_at__gte=timezone.now() - timedelta(days=1)
        ).count(),
        "aging": aging,
        "aging_chart": _aging_chart(aging, tenant.locale),
        "months": months,
        "recovery_chart": _recovery_chart(months, tenant.locale),
        "funnel": funnel(steps),
    }
    return render(request, "collections/dashboard.html", context)
