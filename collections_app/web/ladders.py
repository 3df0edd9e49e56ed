"""The ladder pages: the list, a new ladder (empty or copied), the editor's rename, and the
forecast of what the next days would send.

A ladder is drawn on a timeline around the due date; its steps are edited inline with HTMX
(see `ladder_steps`). Pages read with the viewer role; every write needs admin. Input is
validated and written by the same code as the API: `ladder_save`."""

from django.contrib import messages
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from collections_app.api.ladders import LadderSerializer
from collections_app.engine.explain import EXPLAIN_REASONS
from collections_app.engine.forecast import tenant_forecast_cached
from collections_app.engine.ladders import LadderError, ladder_save
from collections_app.models import (
    SKIP_REASONS,
    Ladder,
    LadderStep,
)
from collections_app.web.form_errors import field_errors
from collections_app.web.ladder_editor import PREVIEW_DAYS, editor_page, step_data
from collections_app.web.permissions import writes_need_admin
from messaging.models import Channel
from tenants.decorators import tenant_required
from tenants.selectors import tenant_today

CHANNEL_ORDER = [*Channel.values, "task"]


def _ladder_list_context(**extra) -> dict:
    ladders = Ladder.objects.annotate(
        step_count=Count("steps", filter=Q(steps__active=True))
    ).prefetch_related("segments")
    return {"ladders": ladders, "form_errors": {}, "name": "", "copy_from": "", **extra}


@require_GET
@tenant_required()
def ladder_list(request):
    context = _ladder_list_context()
    context["can_edit"] = request.membership.has_role("admin")
    return render(request, "collections/config/ladder_list.html", context)


@require_http_methods(["GET", "POST"])
@tenant_required()
@writes_need_admin
def ladder_new(request):
    """Create a ladder, empty or with a copy of another ladder's active steps."""
    if request.method == "GET":
        return redirect(reverse("config_ladders") + "#new-ladder")
    name = request.POST.get("name", "").strip()
    copy_from = request.POST.get("copy_from", "")
    errors: dict[str, list[str]] = {}
    steps: list[dict] = []
    if copy_from:
        source = copy_from.isdigit() and Ladder.objects.filter(pk=copy_from).first()
        if not source:
            errors["copy_from"] = [_("Choose a ladder of this company.")]
        else:
            steps = [
                {k: v for k, v in step_data(s).items() if k != "id"}
                for s in source.steps.filter(active=True)
            ]
    parsed = LadderSerializer(data={"name": name})
    if not parsed.is_valid():
        errors.update(field_errors(parsed.errors))
    if not errors:
        try:
            ladder, _created = ladder_save(tenant=request.tenant, data={"name": name}, steps=steps)
        except LadderError as exc:
            errors = field_errors(exc.errors)
        else:
            messages.success(request, _("Ladder created."))
            return redirect("config_ladder", pk=ladder.pk)
    context = _ladder_list_context(form_errors=errors, name=name, copy_from=copy_from)
    context["can_edit"] = True
    return render(request, "collections/config/ladder_list.html", context)


@require_http_methods(["GET", "POST"])
@tenant_required()
@writes_need_admin
def ladder_detail(request, pk: int):
    """The ladder editor; a POST renames the ladder or sets its thank-you template."""
    ladder = get_object_or_404(Ladder, pk=pk)
    if request.method == "GET":
        return editor_page(request, ladder)
    data = {
        "name": request.POST.get("name", "").strip(),
        "thank_you_template_key": request.POST.get("thank_you_template_key", "").strip(),
    }
    parsed = LadderSerializer(ladder, data=data, partial=True)
    errors = {} if parsed.is_valid() else field_errors(parsed.errors)
    if not errors:
        try:
            ladder_save(tenant=request.tenant, data=data, steps=None, ladder=ladder)
        except LadderError as exc:
            errors = field_errors(exc.errors)
        else:
            messages.success(request, _("Ladder saved."))
            return redirect("config_ladder", pk=ladder.pk)
    ladder.refresh_from_db()
    return editor_page(request, ladder, rename_errors=errors, rename_values=data)


def _preview_table(forecast: dict, labels: set[str]) -> dict:
    """The forecast as a table: one row per step and channel (or task), one column per day."""
    days = [entry["date"] for entry in forecast["by_day"]]
    order = {s.label: (s.offset_days, s.day_kind) for s in LadderStep.objects.filter(active=True)}
    channel_labels = {**dict(Channel.choices), "task": _("Task")}
    series: dict[tuple[str, str], list[int]] = {}
    for index, entry in enumerate(forecast["by_day"]):
        for label, counts in entry["by_step"].items():
            cells = dict(counts["by_channel"], task=counts["tasks"])
            for channel, count in cells.items():
                if count:
                    series.setdefault((label, channel), [0] * len(days))[index] += count
    rows = [
        {
            "step": label,
            "channel": channel,
            "channel_label": channel_labels.get(channel, channel),
            "in_ladder": label in labels,
            "cells": list(zip(days, counts, strict=True)),
            "messages": 0 if channel == "task" else sum(counts),
            "tasks": sum(counts) if channel == "task" else 0,
        }
        for (label, channel), counts in sorted(
            series.items(),
            key=lambda item: (
                order.get(item[0][0], (10_000, "")),
                CHANNEL_ORDER.index(item[0][1]) if item[0][1] in CHANNEL_ORDER else 99,
            ),
        )
    ]
    short = "%d/%m" if (translation.get_language() or "pt-br").startswith("pt") else "%m/%d"
    return {
        "days": [{"date": day, "short": day.strftime(short)} for day in days],
        "rows": rows,
        "messages_per_day": [entry["messages"] for entry in forecast["by_day"]],
        "tasks_per_day": [entry["tasks"] for entry in forecast["by_day"]],
    }


@require_GET
@tenant_required()
def ladder_preview(request, pk: int):
    """What the daily evaluation would send over the next days (`tenant_forecast`), per day,
    step and channel."""
    ladder = get_object_or_404(Ladder, pk=pk)
    start = tenant_today(tenant=request.tenant)
    forecast = tenant_forecast_cached(tenant=request.tenant, start=start, days=PREVIEW_DAYS)
    labels = {s.label for s in ladder.steps.filter(active=True)}
    reasons = {**SKIP_REASONS, **EXPLAIN_REASONS}
    context = {
        "ladder": ladder,
        "forecast": forecast,
        "days": PREVIEW_DAYS,
        "table": _preview_table(forecast, labels),
        "skipped": [
            (code, str(reasons.get(code, code)), n)
            for code, n in forecast["totals"]["skipped"].items()
        ],
        "skipped_total": sum(forecast["totals"]["skipped"].values()),
    }
    template = "_ladder_preview.html" if request.htmx else "ladder_preview.html"
    return render(request, f"collections/config/{template}", context)
