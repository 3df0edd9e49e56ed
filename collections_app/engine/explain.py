"""Explain and forecast the ladders, read-only.

`invoice_explain` tells, for one invoice, why each step of its ladder was sent, skipped (with
the reason) or is planned, and on which day. `tenant_forecast` counts what the daily evaluation
would send over the coming days if nothing changes. Both follow the engine's rules
(`collections_app.engine.evaluate`) from the same calendar, ledger and contact data; they never
write and never call a provider."""

import hashlib
from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateField,
    Exists,
    F,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from collections_app.calendar import BusinessCalendar
from collections_app.engine.channels import channels_pick
from collections_app.engine.evaluate import MAX_CATCH_UP_DAYS, _due_dates_for_step
from collections_app.engine.rules import (
    StepFacts,
    below_minimum,
    invoice_closed_reason,
    step_skip_reason,
)
from collections_app.models import (
    DayKind,
    Dispatch,
    DispatchStatus,
    Invoice,
    InvoiceMessage,
    InvoiceStatus,
    Ladder,
    LadderStep,
    PaymentPromise,
    PromiseStatus,
    StepKind,
    contact_addresses,
)
from collections_app.stats.rollups import data_version
from messaging.models import Channel, Template
from tenants.models import Tenant

FORECAST_MAX_DAYS = 90
DEFAULT_SEGMENT = "default"

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


def _template_keys() -> set[tuple[str, str]]:
    # The engine takes a template of any locale when the tenant's own is missing.
    return set(Template.objects.values_list("key", "channel"))


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
    templates = _template_keys()
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


def _ladder_q(step: LadderStep) -> Q:
    own = Q(customer__segment__ladder_id=step.ladder_id)
    return own | Q(customer__segment__isnull=True) if step.ladder.is_default else own


def _flag(condition: Q) -> Case:
    return Case(
        When(condition, then=Value(True)), default=Value(False), output_field=BooleanField()
    )


def tenant_forecast(*, tenant: Tenant, start: date, days: int = 30) -> dict[str, Any]:
    """What the daily evaluation would do on each day of [start, start + days) if nothing
    changes: no payment, no new invoice, no edit, and one evaluation per day from `start` on.

    Returns {"start", "days", "by_day": [{"date", "messages", "tasks", "by_segment":
    {segment: {"messages", "tasks"}}, "by_channel": {channel: n}, "by_step": {label:
    {"messages", "tasks", "by_channel"}}, "skipped": {reason: n}}], "totals": {the same
    counts over the whole period}}. Segments are named by the customer's current segment, or
    "default"; steps by label, the same label of different ladders adding up. Dates are
    `date` objects.

    Set-based: per active step, the calendar gives the effective due dates whose step day falls
    in the period, and one aggregate query returns the open invoices of that step's ladder with
    those dates and no ledger row for the same day (offset and day kind) of any ladder,
    grouped by step day, segment and the few customer facts the engine decides on.

    An approximation, on purpose:
    - channels follow the engine's choice with today's contact data, opt-outs, preferred
      channels and templates (the first usable channel of a fallback list, every usable one for
      "all"), not the provider's later fallback or failure;
    - skips (disputed, paused, open promise, minimum amount, unreachable, or a day whose
      evaluation already ran) are counted under `skipped`, judged on each step's day, with the
      same codes as `invoice_explain`'s `blocked_by`; segment moves made at evaluation are not
      foreseen;
    - catch-up of days missed before `start` and the first-evaluation rule are left out: every
      step is taken as evaluated on its own day;
    - with one message per customer, messages are counted per customer, step day and channel
      within each group of like invoices."""
    if days < 1:
        raise ValueError("days must be at least 1")
    end = start + timedelta(days=days - 1)
    calendar = BusinessCalendar.for_tenant(tenant)
    ctx = {
        "templates": _template_keys(),
        "per_customer": tenant.one_message_per_customer,
        "last_evaluated_on": tenant.last_evaluated_on,
    }

    def bucket() -> dict:
        return {
            "messages": 0,
            "tasks": 0,
            "by_segment": defaultdict(lambda: {"messages": 0, "tasks": 0}),
            "by_channel": Counter(),
            "by_step": defaultdict(lambda: {"messages": 0, "tasks": 0, "by_channel": Counter()}),
            "skipped": Counter(),
        }

    by_day = {start + timedelta(days=i): bucket() for i in range(days)}
    totals = bucket()

    steps = LadderStep.objects.filter(active=True).select_related("ladder").order_by("offset_days")
    for step in steps:
        due_map = _due_dates_for_step(step, calendar, start, end)
        if not due_map:
            continue
        done = Dispatch.objects.filter(
            invoice=OuterRef("pk"),
            step__offset_days=step.offset_days,
            step__day_kind=step.day_kind,
        )
        promise = PaymentPromise.objects.filter(
            invoice=OuterRef("pk"), status=PromiseStatus.OPEN
        ).values("promised_date")[:1]
        # `rules.below_minimum`, compared by the database for the grouped invoices.
        below_min = (
            _flag(Q(amount__lt=F("amount_paid") + step.min_amount))
            if step.min_amount is not None
            else Value(False, output_field=BooleanField())
        )
        rows = (
            Invoice.objects.filter(
                _ladder_q(step),
                ~Exists(done),
                status=InvoiceStatus.OPEN,
                effective_due_date__in=list(due_map),
            )
            .annotate(
                run_day=Case(
                    *(
                        When(effective_due_date=due, then=Value(day))
                        for due, day in due_map.items()
                    ),
                    output_field=DateField(),
                ),
                segment_name=F("customer__segment__name"),
                has_email=_flag(~Q(customer__email="")),
                has_phone=_flag(~Q(customer__phone="")),
                has_whatsapp=_flag(~Q(customer__whatsapp="")),
                promise_until=Subquery(promise, output_field=DateField()),
                below_min=below_min,
            )
            .values(
                "run_day",
                "segment_name",
                "disputed",
                "paused_until",
                "customer__paused_until",
                "promise_until",
                "below_min",
                "has_email",
                "has_phone",
                "has_whatsapp",
                "customer__opted_out_channels",
                "customer__invalid_channels",
                "customer__preferred_channels",
            )
            .annotate(invoices=Count("id"), customers=Count("customer_id", distinct=True))
            .order_by()
        )
        for row in rows:
            _count_row(step, row, ctx, (by_day[row["run_day"]], totals))

    def plain(b: dict) -> dict:
        return {
            "messages": b["messages"],
            "tasks": b["tasks"],
            "by_segment": {k: dict(v) for k, v in sorted(b["by_segment"].items())},
            "by_channel": dict(sorted(b["by_channel"].items())),
            "by_step": {
                k: {**v, "by_channel": dict(sorted(v["by_channel"].items()))}
                for k, v in b["by_step"].items()
            },
            "skipped": dict(sorted(b["skipped"].items())),
        }

    return {
        "start": start,
        "days": days,
        "by_day": [{"date": day, **plain(b)} for day, b in by_day.items()],
        "totals": plain(totals),
    }


def _count_row(step: LadderStep, row: dict, ctx: dict, buckets) -> None:
    day: date = row["run_day"]
    segment = row["segment_name"] or DEFAULT_SEGMENT
    invoices = row["invoices"]
    facts = StepFacts(
        disputed=row["disputed"],
        paused_until=row["paused_until"],
        customer_paused_until=row["customer__paused_until"],
        promised_until=row["promise_until"],
        skip_while_promise=step.skip_while_promise,
        below_min_amount=row["below_min"],
        # That day's evaluation already ran without these invoices (e.g. created after it).
        evaluated_through=ctx["last_evaluated_on"],
    )
    skip = step_skip_reason(facts, on=day)
    channels: list[str] = []
    if skip is None and step.kind == StepKind.MESSAGE:
        channels, skip = channels_pick(
            step=step,
            preferred=row["customer__preferred_channels"],
            opted_out=row["customer__opted_out_channels"],
            invalid=row["customer__invalid_channels"],
            reachable={
                Channel.EMAIL: row["has_email"],
                Channel.SMS: row["has_phone"],
                Channel.WHATSAPP: row["has_whatsapp"] or row["has_phone"],
            },
            templates=ctx["templates"],
        )
        skip = skip or None
    for b in buckets:
        per_step = b["by_step"][step.label]
        if skip:
            b["skipped"][skip] += invoices
        elif step.kind == StepKind.TASK:
            b["tasks"] += invoices
            b["by_segment"][segment]["tasks"] += invoices
            per_step["tasks"] += invoices
        else:
            # One message per invoice and channel, or per customer when the tenant merges them.
            n = row["customers"] if ctx["per_customer"] else invoices
            for channel in channels:
                b["messages"] += n
                b["by_segment"][segment]["messages"] += n
                b["by_channel"][channel] += n
                per_step["messages"] += n
                per_step["by_channel"][channel] += n


FORECAST_CACHE_SECONDS = 600


def tenant_forecast_cached(*, tenant: Tenant, start: date, days: int = 30) -> dict[str, Any]:
    """`tenant_forecast`, kept for 10 minutes in the cache (shared through Redis when set):
    it reads every open invoice due in the period, too much to do on each page view. The key
    carries the tenant's active steps and templates and a fingerprint of its invoices and
    customers, so an edited ladder or template, a payment or a new invoice shows at once; a
    promise or a pause shows within the 10 minutes."""
    steps = list(
        LadderStep.objects.filter(active=True)
        .order_by("id")
        .values_list(
            "id",
            "ladder_id",
            "offset_days",
            "day_kind",
            "kind",
            "channels",
            "channel_mode",
            "template_key",
            "min_amount",
            "skip_while_promise",
        )
    )
    signature = hashlib.sha256(
        repr(
            (
                steps,
                sorted(_template_keys()),
                tenant.one_message_per_customer,
                tenant.last_evaluated_on,
                tenant.send_days,
                tenant.state,
                data_version(tenant_id=tenant.pk),
            )
        ).encode()
    ).hexdigest()[:16]
    key = f"regua:forecast:{tenant.pk}:{start.isoformat()}:{days}:{signature}"
    forecast = cache.get(key)
    if forecast is None:
        forecast = tenant_forecast(tenant=tenant, start=start, days=days)
        cache.set(key, forecast, FORECAST_CACHE_SECONDS)
    return forecast
