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
from collections_app.web.charts import bar_chart, funnel
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
        "aging_chart": bar_chart(
            [
                (label, float(amount), format_money(amount, "BRL", tenant.locale))
                for label, amount in aging
            ]
        ),
        "months": months,
        "recovery_chart": bar_chart(
            [
                (
                    format_month(row["month"], tenant.locale),
                    row["recovery_rate"] or 0.0,
                    format_percent(row["recovery_rate"], tenant.locale),
                )
                for row in months
            ]
        ),
        "funnel": funnel(steps),
    }
    return render(request, "collections/dashboard.html", context)
