"""The admin's configuration pages: ladders and segments.

A ladder is drawn on a timeline around the due date; its steps are edited inline with HTMX
(one row swapped for its form, the timeline refreshed out of band) and a forecast shows what
the next days would send. Segments are listed in priority order with the customers their rules
match. Pages read with the viewer role; every write needs admin. Input is validated and written
by the same code as the API: `ladder_save` for ladders and steps, `LadderStepSerializer` and
`SegmentSerializer` for the field types and the segment rules."""

import hashlib
from decimal import Decimal
from functools import wraps

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event
from rest_framework import serializers

from collections_app.api.resources import LadderSerializer, LadderStepSerializer, SegmentSerializer
from collections_app.engine.explain import EXPLAIN_REASONS, tenant_forecast_cached
from collections_app.engine.ladders import STEP_FIELDS, LadderError, ladder_save
from collections_app.invoices.segments import open_amounts, rule_matches
from collections_app.models import (
    SKIP_REASONS,
    Behaviour,
    ChannelMode,
    Customer,
    DayKind,
    Ladder,
    LadderStep,
    Segment,
    StepKind,
)
from collections_app.money import format_money
from collections_app.stats.rollups import data_version
from messaging.models import Channel, Template
from tenants.decorators import tenant_required
from tenants.selectors import tenant_today

PREVIEW_DAYS = 14
LADDER_CHANGED = "ladder-changed"
CHANNEL_ORDER = [*Channel.values, "task"]
RULE_KINDS = {
    "amount_at_least": gettext_lazy("Open amount at least"),
    "tag": gettext_lazy("Customer tag"),
    "behaviour": gettext_lazy("Payment behaviour"),
    "manual": gettext_lazy("Placed by hand"),
}  # the API's SEGMENT_RULE_KINDS, each labelled


def _writes_need_admin(view):
    """GET reads with the tenant_required role; any other method needs admin."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method != "GET" and not request.membership.has_role("admin"):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _messages_of(errors) -> list[str]:
    """DRF or LadderError messages, flattened (list fields report per item)."""
    if isinstance(errors, dict):
        return [m for value in errors.values() for m in _messages_of(value)]
    if isinstance(errors, list | tuple):
        return [m for value in errors for m in _messages_of(value)]
    return [str(errors)]


def _field_errors(errors: dict) -> dict[str, list[str]]:
    return {field: _messages_of(value) for field, value in errors.items()}


# Ladders ------------------------------------------------------------------------------------


def _contact(step: LadderStep) -> dict:
    """How a step reaches the customer, for its chips: a task, or channels joined by "→"
    (the first reachable, in order) or "+" (every one)."""
    labels = dict(Channel.choices)
    return {
        "task": step.kind == StepKind.TASK,
        "channels": [labels.get(c, c) for c in step.channels],
        "joiner": "→" if step.channel_mode == ChannelMode.FALLBACK else "+",
    }


def _phase(offset: int) -> str:
    return "before" if offset < 0 else ("on" if offset == 0 else "after")


def _timeline(steps: list[LadderStep]) -> dict:
    """The active steps placed on an axis from the earliest to the latest offset, the due date
    (D0) always on it. Positions are percentages of the axis width, as strings so that the
    locale's decimal comma never reaches the CSS."""
    active = [s for s in steps if s.active]
    offsets = [s.offset_days for s in active] + [0]
    low, high = min(offsets), max(offsets)
    if low == high:
        low, high = low - 1, high + 1

    def position(offset: int) -> str:
        return f"{4 + 92 * (offset - low) / (high - low):.2f}"

    markers = [
        {
            "step": step,
            "offset": step.offset_days,
            "label": step.label,
            "contact": _contact(step),
            "position": position(step.offset_days),
            "phase": _phase(step.offset_days),
        }
        for step in active
    ]
    return {"markers": markers, "due_position": position(0)}


def _template_choices() -> list[tuple[str, str]]:
    """Template keys, each with the channels it has a text for."""
    by_key: dict[str, set[str]] = {}
    for key, channel in Template.objects.values_list("key", "channel"):
        by_key.setdefault(key, set()).add(channel)
    return [(key, ", ".join(sorted(channels))) for key, channels in sorted(by_key.items())]


def _step_values(step: LadderStep | None) -> dict:
    """A step as its form shows it (strings, as a POST would send them)."""
    if step is None:
        return {
            "offset_days": "",
            "day_kind": DayKind.CALENDAR,
            "kind": StepKind.MESSAGE,
            "channels": [],
            "channel_mode": ChannelMode.FALLBACK,
            "template_key": "",
            "task_title": "",
            "min_amount": "",
            "skip_while_promise": True,
            "active": True,
        }
    return {
        "offset_days": str(step.offset_days),
        "day_kind": step.day_kind,
        "kind": step.kind,
        "channels": list(step.channels),
        "channel_mode": step.channel_mode,
        "template_key": step.template_key,
        "task_title": step.task_title,
        "min_amount": "" if step.min_amount is None else str(step.min_amount),
        "skip_while_promise": step.skip_while_promise,
        "active": step.active,
    }


def _step_values_from_post(post) -> dict:
    slots = (post.get(f"channel_{i}", "") for i in range(1, len(Channel.choices) + 1))
    return {
        "offset_days": post.get("offset_days", "").strip(),
        "day_kind": post.get("day_kind", DayKind.CALENDAR),
        "kind": post.get("kind", StepKind.MESSAGE),
        "channels": [c for c in slots if c],
        "channel_mode": post.get("channel_mode", ChannelMode.FALLBACK),
        "template_key": post.get("template_key", "").strip(),
        "task_title": post.get("task_title", "").strip(),
        "min_amount": post.get("min_amount", "").strip(),
        "skip_while_promise": bool(post.get("skip_while_promise")),
        "active": bool(post.get("active")),
    }


def _step_form(
    *, prefix: str, values: dict, errors: dict | None = None, general=None, focus=False
) -> dict:
    channels = values["channels"]
    return {
        "prefix": prefix,
        "focus": focus,
        "values": values,
        "slots": [
            (i, channels[i - 1] if i <= len(channels) else "")
            for i in range(1, len(Channel.choices) + 1)
        ],
        "errors": errors or {},
        "general": general or [],
    }


def _step_data(step: LadderStep) -> dict:
    return {"id": step.pk, **{name: getattr(step, name) for name in STEP_FIELDS}}


def _step_save(*, request, ladder: Ladder, values: dict, step: LadderStep | None) -> dict | None:
    """Add `step` (None) or replace it with the form's values through `ladder_save`, the other
    steps kept as they are. Returns the form's errors, or None when saved."""
    raw = {**values, "min_amount": values["min_amount"] or None}
    parsed = LadderStepSerializer(data=raw)
    if not parsed.is_valid():
        return {"fields": _field_errors(parsed.errors), "general": []}
    edited = dict(parsed.validated_data)
    others = [s for s in ladder.steps.all() if step is None or s.pk != step.pk]
    if step is not None:
        edited["id"] = step.pk
    # The edited step goes last: ladder_save reports a day clash on the later of the two steps.
    return _ladder_save_steps(request=request, ladder=ladder, unchanged=others, edited=edited)


def _ladder_save_steps(
    *, request, ladder: Ladder, unchanged: list[LadderStep], edited: dict | None
) -> dict | None:
    """Save the ladder's steps: `unchanged` as they are, then `edited` (added or changed; None
    when a step is left out, which deletes it, or deactivates it if it already ran). Returns
    the errors `ladder_save` gave, for the edited step's fields or in general, or None."""
    steps = [*map(_step_data, unchanged), *([edited] if edited is not None else [])]
    try:
        ladder_save(tenant=request.tenant, data={}, steps=steps, ladder=ladder)
    except LadderError as exc:
        fields: dict[str, list[str]] = {}
        general: list[str] = []
        per_step = exc.errors.get("steps", [])
        for index, errors in enumerate(per_step):
            if not isinstance(errors, dict):
                general.append(str(errors))
            elif errors and index >= len(unchanged):
                fields = _field_errors(errors)
            elif errors:
                # Another step of the ladder is invalid (e.g. its template was deleted).
                general += [f"{unchanged[index].label}: {m}" for m in _messages_of(errors)]
        general += _messages_of({k: v for k, v in exc.errors.items() if k != "steps"})
        return {"fields": fields, "general": general}
    return None


def _editor_context(request, ladder: Ladder, **extra) -> dict:
    """What the editor's templates need. `extra` may name the `step` of a row, its `form`, the
    row being edited (`editing`), the `add_form`, `focus` (after a save) and `oob`."""
    steps = list(ladder.steps.all())
    templates = _template_choices()
    context = {
        "ladder": ladder,
        "steps": steps,
        "timeline": _timeline(steps),
        "can_edit": request.membership.has_role("admin"),
        "currency": request.tenant.currency,
        "preview_days": PREVIEW_DAYS,
        "template_choices": templates,
        "channel_choices": Channel.choices,
        "day_kinds": DayKind.choices,
        "step_kinds": StepKind.choices,
        "channel_modes": ChannelMode.choices,
        "editing": None,
        "add_form": _step_form(prefix="new-step", values=_step_values(None)),
        "rename_errors": {},
        "rename_values": {
            "name": ladder.name,
            "thank_you_template_key": ladder.thank_you_template_key,
        },
        **extra,
    }
    for step in [*steps, context.get("step")]:
        if step is not None:
            step.contact = _contact(step)
    known = {key for key, _channels in templates}
    for form in (context["add_form"], context.get("form")):
        if form is not None:
            key = form["values"]["template_key"]
            # A key without any template is listed too, so the refused value stays visible.
            unknown = [(key, "")] if key and key not in known else []
            form["template_options"] = [*templates, *unknown]
    return context


def _editor_page(request, ladder: Ladder, **extra):
    return render(
        request, "collections/config/ladder_editor.html", _editor_context(request, ladder, **extra)
    )


def _step_row(request, ladder: Ladder, step: LadderStep):
    """A step's row after a change, with the timeline swapped out of band and an event that
    makes the forecast reload."""
    context = _editor_context(request, ladder, step=step, focus=True, oob=True)
    response = render(request, "collections/config/_step_saved.html", context)
    return trigger_client_event(response, LADDER_CHANGED)


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
@_writes_need_admin
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
                {k: v for k, v in _step_data(s).items() if k != "id"}
                for s in source.steps.filter(active=True)
            ]
    parsed = LadderSerializer(data={"name": name})
    if not parsed.is_valid():
        errors.update(_field_errors(parsed.errors))
    if not errors:
        try:
            ladder, _created = ladder_save(tenant=request.tenant, data={"name": name}, steps=steps)
        except LadderError as exc:
            errors = _field_errors(exc.errors)
        else:
            messages.success(request, _("Ladder created."))
            return redirect("config_ladder", pk=ladder.pk)
    context = _ladder_list_context(form_errors=errors, name=name, copy_from=copy_from)
    context["can_edit"] = True
    return render(request, "collections/config/ladder_list.html", context)


@require_http_methods(["GET", "POST"])
@tenant_required()
@_writes_need_admin
def ladder_detail(request, pk: int):
    """The ladder editor; a POST renames the ladder or sets its thank-you template."""
    ladder = get_object_or_404(Ladder, pk=pk)
    if request.method == "GET":
        return _editor_page(request, ladder)
    data = {
        "name": request.POST.get("name", "").strip(),
        "thank_you_template_key": request.POST.get("thank_you_template_key", "").strip(),
    }
    parsed = LadderSerializer(ladder, data=data, partial=True)
    errors = {} if parsed.is_valid() else _field_errors(parsed.errors)
    if not errors:
        try:
            ladder_save(tenant=request.tenant, data=data, steps=None, ladder=ladder)
        except LadderError as exc:
            errors = _field_errors(exc.errors)
        else:
            messages.success(request, _("Ladder saved."))
            return redirect("config_ladder", pk=ladder.pk)
    ladder.refresh_from_db()
    return _editor_page(request, ladder, rename_errors=errors, rename_values=data)


@require_POST
@tenant_required("admin")
def step_new(request, pk: int):
    """Add a step. An HTMX request gets the editor section back (timeline, rows, add form)."""
    ladder = get_object_or_404(Ladder, pk=pk)
    values = _step_values_from_post(request.POST)
    errors = _step_save(request=request, ladder=ladder, values=values, step=None)
    if errors is None:
        if request.htmx:
            # A fresh add form, focused, ready for the next step.
            add_form = _step_form(prefix="new-step", values=_step_values(None), focus=True)
            response = render(
                request,
                "collections/config/_ladder_editor.html",
                _editor_context(request, ladder, add_form=add_form),
            )
            return trigger_client_event(response, LADDER_CHANGED)
        messages.success(request, _("Step added."))
        return redirect(reverse("config_ladder", args=[ladder.pk]) + "#steps")
    add_form = _step_form(
        prefix="new-step",
        values=values,
        errors=errors["fields"],
        general=errors["general"],
        focus=True,
    )
    template = "_ladder_editor.html" if request.htmx else "ladder_editor.html"
    return render(
        request,
        f"collections/config/{template}",
        _editor_context(request, ladder, add_form=add_form),
    )


@require_GET
@tenant_required("admin")
def step_edit(request, pk: int, step_pk: int):
    """The step's row as a form: the HTMX partial, or the whole editor with that row open."""
    ladder = get_object_or_404(Ladder, pk=pk)
    step = get_object_or_404(LadderStep, pk=step_pk, ladder=ladder)
    form = _step_form(prefix=f"step-{step.pk}", values=_step_values(step), focus=True)
    if request.htmx:
        return render(
            request,
            "collections/config/_step_form.html",
            _editor_context(request, ladder, step=step, form=form),
        )
    return _editor_page(request, ladder, editing=step.pk, form=form)


STEP_ACTIONS = {"save", "delete", "activate", "deactivate"}


@require_http_methods(["GET", "POST"])
@tenant_required()
@_writes_need_admin
def step_detail(request, pk: int, step_pk: int):
    """GET: the step's row (HTMX; "cancel" swaps it back). POST: save the row's form, or
    delete, activate or deactivate the step. A step that already ran is never deleted:
    `ladder_save` deactivates it instead, so its history stays."""
    ladder = get_object_or_404(Ladder, pk=pk)
    step = get_object_or_404(LadderStep, pk=step_pk, ladder=ladder)
    if request.method == "GET":
        if not request.htmx:
            return redirect(reverse("config_ladder", args=[ladder.pk]) + f"#step-{step.pk}")
        return render(
            request,
            "collections/config/_step_row.html",
            _editor_context(request, ladder, step=step),
        )
    action = request.POST.get("action", "save")
    if action not in STEP_ACTIONS:
        action = "save"
    if action == "save":
        values = _step_values_from_post(request.POST)
        errors = _step_save(request=request, ladder=ladder, values=values, step=step)
    else:
        values = _step_values(step)
        edited = (
            None if action == "delete" else {**_step_data(step), "active": action == "activate"}
        )
        others = [s for s in ladder.steps.all() if s.pk != step.pk]
        errors = _ladder_save_steps(request=request, ladder=ladder, unchanged=others, edited=edited)
    if errors is not None:
        form = _step_form(
            prefix=f"step-{step.pk}",
            values=values,
            errors=errors["fields"],
            general=errors["general"],
            focus=True,
        )
        if request.htmx:
            return render(
                request,
                "collections/config/_step_form.html",
                _editor_context(request, ladder, step=step, form=form),
            )
        return _editor_page(request, ladder, editing=step.pk, form=form)
    saved = LadderStep.objects.filter(pk=step.pk).first()
    if not request.htmx:
        if saved is None:
            messages.success(request, _("Step removed."))
        elif action == "delete":
            messages.success(request, _("The step already sent reminders: it was deactivated."))
        else:
            messages.success(request, _("Step saved."))
        return redirect(reverse("config_ladder", args=[ladder.pk]) + "#steps")
    if saved is None:
        # Deleted: the row goes away (an empty swap), the timeline is redrawn.
        response = render(
            request,
            "collections/config/_step_saved.html",
            _editor_context(request, ladder, oob=True),
        )
        return trigger_client_event(response, LADDER_CHANGED)
    return _step_row(request, ladder, saved)


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


# Segments -----------------------------------------------------------------------------------


def _rule_text(rule: dict, currency: str) -> str:
    """A rule as a sentence in the user's language."""
    kind, value = rule.get("kind"), rule.get("value")
    if kind == "amount_at_least":
        try:
            amount = format_money(value, currency, translation.get_language() or "pt-br")
        except (ArithmeticError, TypeError, ValueError):
            amount = str(value)
        return _("Open amount at least %(amount)s") % {"amount": amount}
    if kind == "tag":
        return _("Tagged “%(tag)s”") % {"tag": value}
    if kind == "behaviour" and value in Behaviour.values:
        return _("Payment behaviour: %(behaviour)s") % {"behaviour": Behaviour(value).label}
    return _("Customers placed here by hand")


SEGMENT_COUNTS_CACHE_SECONDS = 300


def _segment_counts(segments: list[Segment]) -> dict[int, dict[str, int]]:
    """`_segment_counts_now`, kept 5 minutes in the cache: it reads every customer. The key
    carries the segments' rules and priorities and a fingerprint of the customers and their
    open amounts, so an edited segment, customer or payment shows at once."""
    if not segments:
        return {}
    tenant_id = segments[0].tenant_id
    signature = hashlib.sha256(
        repr(
            (
                sorted((s.pk, s.priority, repr(s.rule)) for s in segments),
                data_version(tenant_id=tenant_id),
            )
        ).encode()
    ).hexdigest()[:16]
    key = f"regua:segment-counts:{tenant_id}:{signature}"
    counts = cache.get(key)
    if counts is None:
        counts = _segment_counts_now(segments)
        cache.set(key, counts, SEGMENT_COUNTS_CACHE_SECONDS)
    return counts


def _segment_counts_now(segments: list[Segment]) -> dict[int, dict[str, int]]:
    """Per segment: the customers its rule matches (`matching`, priority aside) and those the
    next evaluation would put in it (`landing`: the first match by priority wins; customers
    placed by hand stay where they are). One pass over the customers, with `rule_matches`."""
    counts = {s.pk: {"matching": 0, "landing": 0} for s in segments}
    ruled = [s for s in segments if s.rule.get("kind") != "manual"]
    manual = {s.pk for s in segments if s.rule.get("kind") == "manual"}
    needs_amounts = any(s.rule.get("kind") == "amount_at_least" for s in ruled)
    amounts = open_amounts() if needs_amounts else {}
    customers = Customer.objects.only("id", "tags", "behaviour", "segment_id", "segment_manual")
    for customer in customers.iterator(chunk_size=5000):
        amount = amounts.get(customer.pk, Decimal("0"))
        matched = [s for s in ruled if rule_matches(s.rule, customer, amount)]
        for segment in matched:
            counts[segment.pk]["matching"] += 1
        if customer.segment_manual:
            if customer.segment_id in counts:
                counts[customer.segment_id]["landing"] += 1
                if customer.segment_id in manual:
                    counts[customer.segment_id]["matching"] += 1
        elif matched:
            counts[matched[0].pk]["landing"] += 1
    return counts


def _rule_count(rule: dict, segment: Segment | None) -> int:
    """How many customers `rule` matches now."""
    if rule.get("kind") == "manual":
        if segment is None:
            return 0
        return Customer.objects.filter(segment=segment, segment_manual=True).count()
    amounts = open_amounts() if rule.get("kind") == "amount_at_least" else {}
    customers = Customer.objects.only("id", "tags", "behaviour")
    return sum(
        1
        for customer in customers.iterator(chunk_size=5000)
        if rule_matches(rule, customer, amounts.get(customer.pk, Decimal("0")))
    )


def _rule_from(params) -> dict:
    kind = params.get("rule_kind", "")
    value = {
        "amount_at_least": params.get("rule_amount", "").strip(),
        "tag": params.get("rule_tag", "").strip(),
        "behaviour": params.get("rule_behaviour", ""),
    }.get(kind)
    return {"kind": kind} if value is None else {"kind": kind, "value": value}


def _rule_error(rule: dict) -> list[str]:
    try:
        SegmentSerializer().validate_rule(rule)
    except serializers.ValidationError as exc:
        return _messages_of(exc.detail)
    return []


@require_GET
@tenant_required()
def segment_list(request):
    segments = list(Segment.objects.select_related("ladder").annotate(now_in=Count("customers")))
    counts = _segment_counts(segments)
    rows = [
        {"segment": s, "rule_text": _rule_text(s.rule, request.tenant.currency), **counts[s.pk]}
        for s in segments
    ]
    return render(
        request,
        "collections/config/segment_list.html",
        {
            "rows": rows,
            "customer_total": Customer.objects.count(),
            "can_edit": request.membership.has_role("admin"),
        },
    )


def _segment_form(request, segment: Segment | None):
    """Create (`segment` None) or edit a segment, validated by the API's serializer; the form
    shows how many customers its rule matches."""
    if request.method == "GET":
        rule = segment.rule if segment else {"kind": "tag", "value": ""}
        values = {
            "name": segment.name if segment else "",
            "priority": str(segment.priority if segment else 100),
            "ladder": str(segment.ladder_id if segment else ""),
            "rule": rule,
        }
        errors: dict[str, list[str]] = {}
        count_errors: list[str] = []
    else:
        post = request.POST
        values = {
            "name": post.get("name", "").strip(),
            "priority": post.get("priority", "").strip(),
            "ladder": post.get("ladder", ""),
            "rule": _rule_from(post),
        }
        parsed = SegmentSerializer(segment, data=values)
        if parsed.is_valid():
            saved = parsed.save() if segment else parsed.save(tenant=request.tenant)
            messages.success(request, _("Segment “%(name)s” saved.") % {"name": saved.name})
            return redirect("config_segments")
        errors = _field_errors(parsed.errors)
        count_errors = errors.get("rule", [])
    rule = values["rule"]
    rule_valid = not _rule_error(rule)
    context = {
        "segment": segment,
        "values": values,
        "rule_kind": rule.get("kind", ""),
        "rule_value": "" if rule.get("value") is None else str(rule.get("value")),
        "errors": errors,
        "ladders": Ladder.objects.all(),
        "rule_kinds": list(RULE_KINDS.items()),
        "behaviours": Behaviour.choices,
        "count": _rule_count(rule, segment) if rule_valid else None,
        "count_errors": count_errors,
        "can_edit": request.membership.has_role("admin"),
        "rule_text": _rule_text(rule, request.tenant.currency) if rule_valid else "",
    }
    return render(request, "collections/config/segment_form.html", context)


@require_http_methods(["GET", "POST"])
@tenant_required()
@_writes_need_admin
def segment_new(request):
    return _segment_form(request, None)


@require_http_methods(["GET", "POST"])
@tenant_required()
@_writes_need_admin
def segment_detail(request, pk: int):
    return _segment_form(request, get_object_or_404(Segment, pk=pk))


@require_GET
@tenant_required()
def segment_count(request):
    """HTMX partial: how many customers the rule being edited matches, or why it is invalid."""
    rule = _rule_from(request.GET)
    segment_pk = request.GET.get("segment", "")
    segment = get_object_or_404(Segment, pk=segment_pk) if segment_pk.isdigit() else None
    errors = _rule_error(rule)
    context = {
        "count": None if errors else _rule_count(rule, segment),
        "count_errors": errors,
        "rule_text": "" if errors else _rule_text(rule, request.tenant.currency),
    }
    return render(request, "collections/config/_segment_count.html", context)
