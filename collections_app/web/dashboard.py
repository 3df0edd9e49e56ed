"""The dashboard: the period's figures against the previous period, aging, recovery by month
and by step, the latest interactions and the user's tasks."""

from datetime import timedelta

from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_GET

from collections_app.models import (
    DailyStat,
    FollowUpTask,
    Segment,
    TaskStatus,
)
from collections_app.money import format_money, format_month, format_percent
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


@require_GET
@tenant_required()
def dashboard(request):
    tenant = request.tenant
    today = tenant_today(tenant=tenant)
    date_to = parse_date(request.GET.get("to") or "") or today
    date_from = parse_date(request.GET.get("from") or "") or date_to - timedelta(days=29)
    if date_from > date_to:
        date_from, date_to = date_to, date_from
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
