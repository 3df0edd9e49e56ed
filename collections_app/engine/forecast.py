"""Forecast the ladders of a tenant, read-only: what the daily evaluation would send over the
coming days if nothing changes, counted by day, segment, channel and step. It follows the
engine's rules (`rules`, `channels`) from the same calendar, ledger and contact data as
`explain`; it never writes and never calls a provider."""

import hashlib
from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Any

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

from collections_app.calendar import BusinessCalendar
from collections_app.engine.channels import channels_pick
from collections_app.engine.ladders import STEP_FIELDS
from collections_app.engine.rules import StepFacts, step_skip_reason
from collections_app.engine.templates import template_keys
from collections_app.engine.window import due_dates_for_step
from collections_app.models import (
    Dispatch,
    Invoice,
    InvoiceStatus,
    LadderStep,
    PaymentPromise,
    PromiseStatus,
    StepKind,
)
from collections_app.stats.rollups import data_version
from messaging.models import Channel
from tenants.models import Tenant

FORECAST_MAX_DAYS = 90
DEFAULT_SEGMENT = "default"


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
        "templates": template_keys(),
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
        due_map = due_dates_for_step(step, calendar, start, end)
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
        .values_list("id", "ladder_id", *STEP_FIELDS)
    )
    signature = hashlib.sha256(
        repr(
            (
                steps,
                sorted(template_keys()),
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
