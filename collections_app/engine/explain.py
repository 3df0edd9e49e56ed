"""Explain the ladder of one invoice, read-only.

`invoice_explain` tells, for one invoice, why each step of its ladder was sent, skipped (with
the reason) or is planned, and on which day. It follows the engine's rules (`rules`,
`channels`) from the same calendar, ledger and contact data, as the forecast (`forecast`) does
for a whole tenant; it never writes and never calls a provider."""

from collections import defaultdict
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from collections_app.calendar import BusinessCalendar
from collections_app.engine.channels import channels_pick
from collections_app.engine.rules import (
    StepFacts,
    below_minimum,
    invoice_closed_reason,
    step_skip_reason,
)
from collections_app.engine.templates import template_keys
from collections_app.engine.window import MAX_CATCH_UP_DAYS
from collections_app.models import (
    DayKind,
    Dispatch,
    DispatchStatus,
    Invoice,
    InvoiceMessage,
    Ladder,
    LadderStep,
    PaymentPromise,
    PromiseStatus,
    StepKind,
    contact_addresses,
)
from tenants.models import Tenant

# Reasons this module gives beyond the ledger's SKIP_REASONS.
EXPLAIN_REASONS = {
    "pre_due_after_due_date": _("Pre-due step would land on or after the due date: dropped"),
    "before_first_evaluation": _(
        "Its day had passed when the invoice was first evaluated (not sent late)"
    ),
    "awaiting_catch_up": _(
        "Missed while the evaluation did not run; the next run sends it only if it is the "
        "invoice's latest missed step"
    ),
    "superseded_or_missed": _("Its day passed without a send (superseded or missed)"),
    "invoice_paid": _("Invoice paid"),
    "invoice_cancelled": _("Invoice cancelled"),
    "invoice_written_off": _("Invoice written off"),
    "promise_open": _("Open promise to pay"),
    "evaluated_today": _("Today's evaluation already ran; only a manual run today would send it"),
}

StepExplanation = dict[str, Any]


def _label(code: str) -> str:
    return str(EXPLAIN_REASONS.get(code, code)) if code else ""


def _applicable_ladder(invoice: Invoice) -> Ladder | None:
    segment = invoice.customer.segment
    if segment is not None:
        return segment.ladder
    return Ladder.objects.filter(is_default=True).first()


def _same_day_key(step: LadderStep) -> tuple[int, str]:
    return (step.offset_days, step.day_kind)


def invoice_explain(*, tenant: Tenant, invoice: Invoice, today: date) -> list[StepExplanation]:
    """One entry per step of the ladder that applies to the invoice's customer (the segment's
    ladder, else the tenant's default), plus every step, inactive or of another ladder, that
    has a dispatch for the invoice. Ordered by offset.

    Each entry has `step` (label), `step_id`, `ladder`, `active`, `offset_days`, `day_kind`,
    `kind`, `channels`, `channel_mode`, `scheduled_for` (the step's day from the tenant's
    calendar, None when a pre-due step is dropped), `state`, `reason` (a code, "" when none),
    `reason_label`, `dispatch` (None or the ledger row's id, status, step id, scheduled and
    evaluated dates), `messages` (channel and status of each message the dispatch caused),
    `blocked_by` and `would_use`. States:

    - "sent" / "task" / "skipped": a ledger row exists for the step, or for another step of the
      same day (offset and day kind) of any ladder, which the engine counts as done;
    - "dropped": a pre-due step that would land on or after the effective due date;
    - "stopped": the invoice was paid, cancelled or written off before the step's day;
    - "not_sent": the day passed without a ledger row: `before_first_evaluation` (the invoice
      was created after the tenant's last run, or on or after the step's day, and the engine
      does not catch up an invoice's first evaluation), `awaiting_catch_up` (no run since that
      day: the next one sends it if it is the latest missed step) or `superseded_or_missed`;
    - "planned": the day is today or later. `blocked_by` names what would make the engine
      skip it if nothing changes (disputed, promise_open, paused, below_min_amount, a channel
      reason, or evaluated_today); `would_use` lists the channels a message step would use
      with today's contact data and templates.

    Must run inside the tenant's scope; reads only."""
    invoice = Invoice.objects.select_related("customer__segment__ladder").get(pk=invoice.pk)
    customer = invoice.customer
    calendar = BusinessCalendar.for_tenant(tenant)
    ladder = _applicable_ladder(invoice)

    dispatches = list(
        Dispatch.objects.filter(invoice=invoice).select_related("step__ladder").order_by("id")
    )
    by_step = {d.step_id: d for d in dispatches}
    by_day: dict[tuple, Dispatch] = {}
    for d in dispatches:
        by_day.setdefault(_same_day_key(d.step), d)
    messages: dict[int, list[dict]] = defaultdict(list)
    for link in (
        InvoiceMessage.objects.filter(invoice=invoice, dispatch__isnull=False)
        .select_related("message")
        .order_by("message_id")
    ):
        m = link.message
        messages[link.dispatch_id].append({"id": m.pk, "channel": m.channel, "status": m.status})

    steps: list[LadderStep] = []
    if ladder is not None:
        steps = [
            s
            for s in LadderStep.objects.filter(ladder=ladder).select_related("ladder")
            if s.active or s.pk in by_step
        ]
    listed = {s.pk for s in steps}
    # Steps of a former ladder (the customer changed segment) keep their history visible.
    steps += [d.step for d in dispatches if d.step_id not in listed]
    steps.sort(key=lambda s: (s.offset_days, s.day_kind == DayKind.BUSINESS, not s.active, s.pk))

    promise = (
        PaymentPromise.objects.filter(invoice=invoice, status=PromiseStatus.OPEN)
        .values_list("promised_date", flat=True)
        .first()
    )
    templates = template_keys()
    reachable = contact_addresses(
        email=customer.email, phone=customer.phone, whatsapp=customer.whatsapp
    )
    context = {
        "invoice": invoice,
        "today": today,
        "promise": promise,
        "templates": templates,
        "reachable": reachable,
        "last_evaluated_on": tenant.last_evaluated_on,
        "seen": tenant.last_evaluated_at is not None
        and invoice.created_at < tenant.last_evaluated_at,
        "created_on": timezone.localtime(invoice.created_at, ZoneInfo(tenant.timezone)).date(),
    }

    entries = []
    for step in steps:
        scheduled = calendar.step_date(
            invoice.effective_due_date, step.offset_days, step.day_kind == DayKind.BUSINESS
        )
        dispatch = by_step.get(step.pk) or by_day.get(_same_day_key(step))
        entry: StepExplanation = {
            "step": step.label,
            "step_id": step.pk,
            "ladder": step.ladder.name,
            "active": step.active,
            "offset_days": step.offset_days,
            "day_kind": step.day_kind,
            "kind": step.kind,
            "channels": list(step.channels),
            "channel_mode": step.channel_mode,
            "scheduled_for": scheduled,
            "state": "",
            "reason": "",
            "reason_label": "",
            "dispatch": None,
            "messages": [],
            "blocked_by": None,
            "would_use": [],
        }
        if dispatch is not None:
            _from_dispatch(entry, dispatch, messages.get(dispatch.pk, []))
        else:
            _without_dispatch(entry, step, scheduled, context)
        entries.append(entry)
    return entries


def _from_dispatch(entry: StepExplanation, dispatch: Dispatch, messages: list[dict]) -> None:
    entry["dispatch"] = {
        "id": dispatch.pk,
        "status": dispatch.status,
        "step_id": dispatch.step_id,
        "scheduled_for": dispatch.scheduled_for,
        "evaluated_on": dispatch.evaluated_on,
    }
    if dispatch.status == DispatchStatus.SKIPPED:
        entry["state"] = "skipped"
        entry["reason"] = dispatch.reason
        label = dispatch.reason_label
        # Codes the ledger's label table lacks (e.g. promise_open) get ours.
        entry["reason_label"] = _label(dispatch.reason) if label == dispatch.reason else label
    elif dispatch.status == DispatchStatus.TASK:
        entry["state"] = "task"
    else:
        entry["state"] = "sent"
        entry["messages"] = messages


def _without_dispatch(
    entry: StepExplanation, step: LadderStep, scheduled: date | None, ctx: dict
) -> None:
    invoice: Invoice = ctx["invoice"]
    today: date = ctx["today"]
    if scheduled is None:
        state, reason = "dropped", "pre_due_after_due_date"
    elif (closed := invoice_closed_reason(invoice.status)) and (
        # A step that fell before the payment was decided while the invoice was still open.
        invoice.paid_on is None or scheduled >= invoice.paid_on
    ):
        state, reason = "stopped", closed
    elif scheduled < today:
        state = "not_sent"
        last = ctx["last_evaluated_on"]
        # The engine takes an invoice created after the tenant's last run as seen for the first
        # time and does not catch its past days up. One created on the step's day or later was
        # not there for that day's run (had it been, that run would have left a ledger row).
        if not ctx["seen"] or ctx["created_on"] >= scheduled:
            reason = "before_first_evaluation"
        elif (
            last is not None
            and last < scheduled
            and scheduled >= today - timedelta(days=MAX_CATCH_UP_DAYS)
        ):
            reason = "awaiting_catch_up"
        else:
            # Run history is not kept: an outage that began before the invoice existed looks
            # the same as a step added or a segment changed after its day.
            reason = "superseded_or_missed"
    else:
        state, reason = "planned", ""
        entry["blocked_by"] = _blocked_by(entry, step, scheduled, ctx)
    entry["state"] = state
    entry["reason"] = reason
    entry["reason_label"] = _label(reason)


def _blocked_by(entry: StepExplanation, step: LadderStep, day: date, ctx: dict) -> str | None:
    """What would make the engine skip a planned step on `day` if nothing changes: the
    engine's rule (`rules.step_skip_reason`), then its channel choice."""
    invoice: Invoice = ctx["invoice"]
    customer = invoice.customer
    if step.kind == StepKind.MESSAGE:
        entry["would_use"], channel_reason = channels_pick(
            step=step,
            preferred=customer.preferred_channels,
            opted_out=customer.opted_out_channels,
            invalid=customer.invalid_channels,
            reachable=ctx["reachable"],
            templates=ctx["templates"],
        )
    else:
        channel_reason = ""
    facts = StepFacts(
        status=invoice.status,
        disputed=invoice.disputed,
        paused_until=invoice.paused_until,
        customer_paused_until=customer.paused_until,
        promised_until=ctx["promise"],
        skip_while_promise=step.skip_while_promise,
        below_min_amount=below_minimum(amount_due=invoice.amount_due, min_amount=step.min_amount),
        # Beat evaluates once per local day: a step of a day already evaluated with no ledger
        # row was not seen.
        evaluated_through=ctx["last_evaluated_on"],
    )
    return step_skip_reason(facts, on=day) or channel_reason or None
