"""What the ladder editor shows: the steps on a timeline around the due date, each step's
row or form, and the responses that swap a row and refresh the timeline out of band."""

from django.shortcuts import render
from django_htmx.http import trigger_client_event

from collections_app.engine.ladders import STEP_FIELDS
from collections_app.models import (
    ChannelMode,
    DayKind,
    Ladder,
    LadderStep,
    StepKind,
)
from collections_app.web.labels import channel_label
from messaging.models import Channel, Template

PREVIEW_DAYS = 14


LADDER_CHANGED = "ladder-changed"


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
    """Template keys, each with its name and the channels it has a text for ("Lembrete no
    vencimento (E-mail, SMS)"); the key stands in for a template without a name."""
    by_key: dict[str, set[str]] = {}
    names: dict[str, str] = {}
    for key, channel, name in Template.objects.order_by("key", "channel").values_list(
        "key", "channel", "name"
    ):
        by_key.setdefault(key, set()).add(channel)
        if name and not names.get(key):
            names[key] = name
    order = [c for c, _label in Channel.choices]
    choices = []
    for key, chosen in sorted(by_key.items()):
        channels = ", ".join(channel_label(c) for c in sorted(chosen, key=order.index))
        choices.append((key, f"{names.get(key) or key} ({channels})"))
    return choices


def step_values(step: LadderStep | None) -> dict:
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


def step_form(
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


def step_data(step: LadderStep) -> dict:
    return {"id": step.pk, **{name: getattr(step, name) for name in STEP_FIELDS}}


def editor_context(request, ladder: Ladder, **extra) -> dict:
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
        "add_form": step_form(prefix="new-step", values=step_values(None)),
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


def editor_page(request, ladder: Ladder, **extra):
    return render(
        request, "collections/config/ladder_editor.html", editor_context(request, ladder, **extra)
    )


def step_row(request, ladder: Ladder, step: LadderStep):
    """A step's row after a change, with the timeline swapped out of band and an event that
    makes the forecast reload."""
    context = editor_context(request, ladder, step=step, focus=True, oob=True)
    response = render(request, "collections/config/_step_saved.html", context)
    return trigger_client_event(response, LADDER_CHANGED)
