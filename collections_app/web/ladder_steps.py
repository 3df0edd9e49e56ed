"""A ladder's steps, edited inline with HTMX: add, edit, save, delete, (de)activate. The
edited row is swapped, the timeline refreshed out of band, and the forecast told to reload.
Steps are validated with the API's `LadderStepSerializer` and saved by `ladder_save`."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from collections_app.api.ladders import LadderStepSerializer
from collections_app.engine.ladders import LadderError, ladder_save
from collections_app.models import (
    ChannelMode,
    DayKind,
    Ladder,
    LadderStep,
    StepKind,
)
from collections_app.web.form_errors import field_errors, messages_of
from collections_app.web.ladder_editor import (
    LADDER_CHANGED,
    editor_context,
    editor_page,
    step_data,
    step_form,
    step_row,
    step_values,
)
from collections_app.web.permissions import writes_need_admin
from messaging.models import Channel
from tenants.decorators import tenant_required


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


def _step_save(*, request, ladder: Ladder, values: dict, step: LadderStep | None) -> dict | None:
    """Add `step` (None) or replace it with the form's values through `ladder_save`, the other
    steps kept as they are. Returns the form's errors, or None when saved."""
    raw = {**values, "min_amount": values["min_amount"] or None}
    parsed = LadderStepSerializer(data=raw)
    if not parsed.is_valid():
        return {"fields": field_errors(parsed.errors), "general": []}
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
    steps = [*map(step_data, unchanged), *([edited] if edited is not None else [])]
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
                fields = field_errors(errors)
            elif errors:
                # Another step of the ladder is invalid (e.g. its template was deleted).
                general += [f"{unchanged[index].label}: {m}" for m in messages_of(errors)]
        general += messages_of({k: v for k, v in exc.errors.items() if k != "steps"})
        return {"fields": fields, "general": general}
    return None


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
            add_form = step_form(prefix="new-step", values=step_values(None), focus=True)
            response = render(
                request,
                "collections/config/_ladder_editor.html",
                editor_context(request, ladder, add_form=add_form),
            )
            return trigger_client_event(response, LADDER_CHANGED)
        messages.success(request, _("Step added."))
        return redirect(reverse("config_ladder", args=[ladder.pk]) + "#steps")
    add_form = step_form(
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
        editor_context(request, ladder, add_form=add_form),
    )


def step_form_answer(request, ladder: Ladder, step: LadderStep, form):
    """The step's row open as a form: the HTMX partial, or the whole editor with it open."""
    if request.htmx:
        return render(
            request,
            "collections/config/_step_form.html",
            editor_context(request, ladder, step=step, form=form),
        )
    return editor_page(request, ladder, editing=step.pk, form=form)


@require_GET
@tenant_required("admin")
def step_edit(request, pk: int, step_pk: int):
    """The step's row as a form: the HTMX partial, or the whole editor with that row open."""
    ladder = get_object_or_404(Ladder, pk=pk)
    step = get_object_or_404(LadderStep, pk=step_pk, ladder=ladder)
    form = step_form(prefix=f"step-{step.pk}", values=step_values(step), focus=True)
    return step_form_answer(request, ladder, step, form)


STEP_ACTIONS = {"save", "delete", "activate", "deactivate"}


@require_http_methods(["GET", "POST"])
@tenant_required()
@writes_need_admin
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
            editor_context(request, ladder, step=step),
        )
    action = request.POST.get("action", "save")
    if action not in STEP_ACTIONS:
        action = "save"
    if action == "save":
        values = _step_values_from_post(request.POST)
        errors = _step_save(request=request, ladder=ladder, values=values, step=step)
    else:
        values = step_values(step)
        edited = None if action == "delete" else {**step_data(step), "active": action == "activate"}
        others = [s for s in ladder.steps.all() if s.pk != step.pk]
        errors = _ladder_save_steps(request=request, ladder=ladder, unchanged=others, edited=edited)
    if errors is not None:
        form = step_form(
            prefix=f"step-{step.pk}",
            values=values,
            errors=errors["fields"],
            general=errors["general"],
            focus=True,
        )
        return step_form_answer(request, ladder, step, form)
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
            editor_context(request, ladder, oob=True),
        )
        return trigger_client_event(response, LADDER_CHANGED)
    return step_row(request, ladder, saved)
