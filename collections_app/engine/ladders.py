"""Writing ladders and their steps. Steps are edited in place (matched by id), never deleted
once they have run: the ledger is keyed by step, so a re-created step would look new and send
again. A step removed from a ladder that already ran is deactivated instead."""

from django.db import transaction
from django.utils.translation import gettext as _

from collections_app.models import ChannelMode, DayKind, Ladder, LadderStep, StepKind
from messaging.models import Template
from tenants.models import Tenant

STEP_FIELDS = (
    "offset_days",
    "day_kind",
    "kind",
    "channels",
    "channel_mode",
    "template_key",
    "task_title",
    "min_amount",
    "skip_while_promise",
    "active",
)


class LadderError(ValueError):
    """Invalid ladder input; `errors` maps fields (or `steps` → per-step dicts) to messages."""

    def __init__(self, errors: dict):
        super().__init__(str(errors))
        self.errors = errors


def _step_errors(step: dict, templates: set[tuple[str, str]]) -> dict:
    errors: dict[str, list[str]] = {}
    kind = step.get("kind", StepKind.MESSAGE)
    if kind == StepKind.MESSAGE:
        channels = step.get("channels") or []
        if not channels:
            errors["channels"] = [_("A message step needs at least one channel.")]
        elif len(set(channels)) != len(channels):
            errors["channels"] = [_("A channel is listed twice.")]
        if not step.get("template_key"):
            errors["template_key"] = [_("A message step needs a template.")]
        else:
            missing = [c for c in channels if (step["template_key"], c) not in templates]
            if missing:
                errors["template_key"] = [
                    _("No template %(key)s for: %(channels)s")
                    % {"key": step["template_key"], "channels": ", ".join(missing)}
                ]
    elif not step.get("task_title"):
        errors["task_title"] = [_("A task step needs a title.")]
    return errors


def ladder_save(
    *, tenant: Tenant, data: dict, steps: list[dict] | None, ladder: Ladder | None = None
) -> tuple[Ladder, bool]:
    """Create or update a ladder and (when `steps` is given) its whole list of steps.

    Steps with an `id` are updated in place; steps without one are added; steps left out are
    deleted if they never ran, deactivated otherwise. Raises LadderError, writing nothing."""
    templates = set(Template.objects.values_list("key", "channel"))
    if steps is not None:
        step_errors = [_step_errors(step, templates) for step in steps]
        seen: dict[tuple, int] = {}
        for index, step in enumerate(steps):
            if not step.get("active", True):
                continue
            slot = (step.get("offset_days"), step.get("day_kind", DayKind.CALENDAR))
            if slot in seen:
                step_errors[index].setdefault("offset_days", []).append(
                    _("Two steps on the same day of the ladder.")
                )
            seen[slot] = index
        if any(step_errors):
            raise LadderError({"steps": step_errors})
    created = ladder is None
    with transaction.atomic():
        if created:
            ladder = Ladder(tenant=tenant)
        for name in ("name", "thank_you_template_key"):
            if name in data:
                setattr(ladder, name, data[name])
        if Ladder.objects.filter(name=ladder.name).exclude(pk=ladder.pk).exists():
            raise LadderError({"name": [_("Another ladder has this name.")]})
        ladder.save()
        if steps is not None:
            _replace_steps(tenant=tenant, ladder=ladder, steps=steps)
    return ladder, created


def _replace_steps(*, tenant: Tenant, ladder: Ladder, steps: list[dict]) -> None:
    current = {s.pk: s for s in LadderStep.objects.filter(ladder=ladder)}
    unknown = [s["id"] for s in steps if s.get("id") and s["id"] not in current]
    if unknown:
        raise LadderError({"steps": [_("Unknown step id(s): %s") % unknown]})
    kept = {s["id"] for s in steps if s.get("id")}
    for step in current.values():
        if step.pk in kept:
            continue
        if step.dispatches.exists():
            step.active = False
            step.save(update_fields=["active"])
        else:
            step.delete()
    # Move edited steps out of the way first: the unique (ladder, offset) constraint is
    # checked row by row, and two steps may swap days.
    for pk in kept:
        LadderStep.objects.filter(pk=pk).update(offset_days=-(20_000 + pk))
    for data in steps:
        step = current.get(data.get("id")) or LadderStep(tenant=tenant, ladder=ladder)
        for name in STEP_FIELDS:
            if name in data:
                setattr(step, name, data[name])
        if step.kind == StepKind.TASK:
            step.channels, step.channel_mode = [], ChannelMode.FALLBACK
        step.save()
