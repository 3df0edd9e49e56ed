"""The daily evaluation: which invoice gets which step today.

Set-based, for many tenants at once. Tenants that share a calendar and an evaluation window are
evaluated together: the calendar work is done once per step shape (offset, calendar or business
days), giving the effective due dates whose step day falls in the window; one query returns the
invoices with those due dates for every tenant of the group, one more the ledger rows they
already have. The plan is made in memory and written with a handful of bulk inserts. The unique
ledger row (invoice × step) and the tenant row locks make a run safe to repeat or race."""

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone
from django_scopes import scope

from messaging.models import Message, MessagePurpose, MessageStatus, Template
from messaging.services import messages_enqueue
from tenants.models import Tenant

from ..calendar import BusinessCalendar
from ..models import (
    ChannelMode,
    DayKind,
    Dispatch,
    DispatchStatus,
    FollowUpTask,
    Interaction,
    InteractionKind,
    Invoice,
    InvoiceMessage,
    InvoiceStatus,
    LadderStep,
    PaymentPromise,
    PromiseStatus,
    Segment,
    StepKind,
)
from ..promises import promises_resolve
from ..segments import open_amounts, segments_assign
from ..tasks_assignment import task_assigners
from .bulk import bulk_insert

MAX_CATCH_UP_DAYS = 31
# How far a step day can drift from "effective due + offset" (send-day moves, business days).
_DRIFT = 12
# Tenants evaluated in one transaction: bounds memory and lock time, whatever the portfolio.
BATCH_TENANTS = 250


@dataclass
class EvaluationResult:
    tenant: str
    date: str
    window_start: str
    created: int = 0
    messages: int = 0
    tasks: int = 0
    skipped: Counter = field(default_factory=Counter)
    dry_run: bool = False
    planned: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "tenant": self.tenant,
            "date": self.date,
            "window_start": self.window_start,
            "created": self.created,
            "messages": self.messages,
            "tasks": self.tasks,
            "skipped": dict(self.skipped),
            "dry_run": self.dry_run,
        }


def _window_start(tenant: Tenant, today: date) -> date:
    """DESIGN invariant 5: catch up only over the days since the previous evaluation."""
    last = tenant.last_evaluated_on
    if last is None or last >= today:
        return today
    return max(last + timedelta(days=1), today - timedelta(days=MAX_CATCH_UP_DAYS))


def _due_dates_for_step(
    step: LadderStep, calendar: BusinessCalendar, start: date, end: date
) -> dict[date, date]:
    """effective due date → the day the step runs for it, for step days within [start, end]."""
    return _due_dates(step.offset_days, step.day_kind, calendar, start, end)


def _due_dates(
    offset: int, day_kind: str, calendar: BusinessCalendar, start: date, end: date
) -> dict[date, date]:
    business = day_kind == DayKind.BUSINESS
    spread = _DRIFT + (abs(offset) // 2 if business else 0)
    first = start - timedelta(days=offset + spread)
    last = end - timedelta(days=offset - spread)
    if business:
        first -= timedelta(days=abs(offset))
        last += timedelta(days=abs(offset))
    mapping = {}
    day = first
    while day <= last:
        runs_on = calendar.step_date(day, offset, business)
        if runs_on is not None and start <= runs_on <= end:
            mapping[day] = runs_on
        day += timedelta(days=1)
    return mapping


def ladder_evaluate(*, tenant: Tenant, today: date, dry_run: bool = False) -> EvaluationResult:
    """Evaluate one tenant's ladders as if `today` were the tenant's local date.

    Idempotent: a re-run of the same day creates nothing (unique ledger row per invoice ×
    step; a step replaced on the same day of the ladder counts as done). After an outage only
    the latest missed step of each invoice is sent; the others are recorded as skipped
    ("superseded"). An invoice evaluated for the first time starts at the ladder's current
    position: only a step due today is sent. Paid and cancelled invoices are counted under
    `skipped`; disputed, promised, paused and unreachable ones get a skipped ledger row with
    the reason. Messages are queued, in batches, once the transaction commits."""
    return ladders_evaluate_many(tenants=[tenant], today=today, dry_run=dry_run)[0]


def ladders_evaluate_many(
    *, tenants: Iterable[Tenant], today: date, dry_run: bool = False
) -> list[EvaluationResult]:
    """Evaluate several tenants for the same local `today`, with the guarantees of
    `ladder_evaluate`, in one transaction and a few queries per group of tenants that share a
    calendar and an evaluation window. Results come in the order of `tenants`."""
    ids = [t.pk for t in tenants]
    started = timezone.now()
    with transaction.atomic():
        locked = {t.pk: t for t in Tenant.objects.select_for_update().filter(pk__in=ids)}
        ordered = [locked[pk] for pk in ids if pk in locked]
        with scope(tenant=ordered):
            if not dry_run:
                _prepare(ordered, today)
            results = {}
            calendars = BusinessCalendar.for_tenants(ordered)
            groups: dict[tuple, list[Tenant]] = defaultdict(list)
            for tenant in ordered:
                start = _window_start(tenant, today)
                groups[(start, calendars[tenant.pk].signature)].append(tenant)
                results[tenant.pk] = EvaluationResult(
                    tenant=tenant.slug,
                    date=today.isoformat(),
                    window_start=start.isoformat(),
                    dry_run=dry_run,
                )
            for (start, _signature), members in groups.items():
                calendar = calendars[members[0].pk]
                _evaluate_group(members, calendar, start, today, results, dry_run)
            if not dry_run:
                Tenant.objects.filter(pk__in=locked).update(last_evaluated_at=started)
                Tenant.objects.filter(pk__in=locked).exclude(last_evaluated_on__gte=today).update(
                    last_evaluated_on=today
                )
    return [results[pk] for pk in ids if pk in results]


def _prepare(tenants: list[Tenant], today: date) -> None:
    """Before deciding: close promises whose date passed and, for tenants that have segments,
    put each customer in its segment (behaviour classes are kept current by payments)."""
    promises_resolve(tenant=None, today=today)
    with_segments = set(Segment.objects.values_list("tenant_id", flat=True).distinct())
    for tenant in tenants:
        if tenant.pk in with_segments:
            with scope(tenant=tenant):
                segments_assign(tenant=tenant, classify=False)


def _evaluate_group(tenants, calendar, start, today, results, dry_run) -> None:
    tenant_ids = [t.pk for t in tenants]
    steps = list(
        LadderStep.objects.filter(tenant_id__in=tenant_ids, active=True).select_related("ladder")
    )
    # (offset, day kind) → {effective due date: day the step runs}
    shapes = {
        shape: _due_dates(*shape, calendar, start, today)
        for shape in {(s.offset_days, s.day_kind) for s in steps}
    }
    by_due: dict[date, list[tuple]] = defaultdict(list)
    for shape, mapping in shapes.items():
        for due, runs_on in mapping.items():
            by_due[due].append((shape, runs_on))
    if not by_due:
        return
    steps_by_slot: dict[tuple, LadderStep] = {}
    default_ladder: dict[int, int] = {}
    for step in steps:
        steps_by_slot[(step.ladder_id, step.offset_days, step.day_kind)] = step
        if step.ladder.is_default:
            default_ladder[step.tenant_id] = step.ladder_id
    segment_ladder = dict(
        Segment.objects.filter(tenant_id__in=tenant_ids).values_list("id", "ladder_id")
    )
    done = {
        (invoice_id, ladder_id, offset, kind)
        for invoice_id, ladder_id, offset, kind in Dispatch.objects.filter(
            tenant_id__in=tenant_ids, invoice__effective_due_date__in=by_due
        ).values_list("invoice_id", "step__ladder_id", "step__offset_days", "step__day_kind")
    }

    seen_until = {t.pk: t.last_evaluated_at for t in tenants}
    candidates: dict[int, list] = defaultdict(list)
    invoices: dict[int, Invoice] = {}
    for invoice in (
        Invoice.objects.filter(tenant_id__in=tenant_ids, effective_due_date__in=by_due)
        .select_related("customer")
        .iterator(chunk_size=5000)
    ):
        customer = invoice.customer
        ladder_id = (
            segment_ladder.get(customer.segment_id)
            if customer.segment_id
            else default_ladder.get(invoice.tenant_id)
        )
        for (offset, kind), runs_on in by_due[invoice.effective_due_date]:
            step = steps_by_slot.get((ladder_id, offset, kind))
            if step is None or (invoice.pk, ladder_id, offset, kind) in done:
                continue
            if invoice.status != InvoiceStatus.OPEN:
                results[invoice.tenant_id].skipped[f"invoice_{invoice.status}"] += 1
                continue
            last_run = seen_until[invoice.tenant_id]
            if runs_on != today and (last_run is None or invoice.created_at >= last_run):
                continue  # the invoice's first evaluation: missed days are not caught up
            invoices[invoice.pk] = invoice
            candidates[invoice.pk].append((runs_on, step))
    if not candidates:
        return

    templates = _templates(tenants)
    promised = set(
        PaymentPromise.objects.filter(
            tenant_id__in=tenant_ids,
            status=PromiseStatus.OPEN,
            promised_date__gte=today,
            invoice__effective_due_date__in=by_due,
        ).values_list("invoice_id", flat=True)
    )
    plan = _plan(candidates, invoices, templates, today, promised)
    if dry_run:
        for item in plan:
            result = results[item["invoice"].tenant_id]
            if item["status"] == DispatchStatus.SKIPPED:
                result.skipped[item["reason"]] += 1
            else:
                result.created += 1
                result.messages += len(item["channels"])
                result.tasks += item["status"] == DispatchStatus.TASK
            result.planned.append(
                {
                    "invoice": item["invoice"].external_id,
                    "step": item["step"].label,
                    "status": str(item["status"]),
                    "reason": item["reason"],
                    "channels": [c for c, _addr, _t in item["channels"]],
                }
            )
        return
    _write({t.pk: t for t in tenants}, plan, today, results)


def _templates(tenants: list[Tenant]) -> dict[tuple[int, str, str], Template]:
    """(tenant, key, channel) → template, in the tenant's locale when it has one."""
    locale = {t.pk: t.locale for t in tenants}
    found: dict[tuple[int, str, str], Template] = {}
    for template in Template.objects.filter(tenant_id__in=locale):
        key = (template.tenant_id, template.key, template.channel)
        if template.locale == locale[template.tenant_id] or key not in found:
            found[key] = template
    return found


def _plan(candidates, invoices, templates, today, promised) -> list[dict]:
    plan = []
    for invoice_id, options in candidates.items():
        options.sort(key=lambda o: (o[0], o[1].offset_days))
        invoice = invoices[invoice_id]
        *missed, (runs_on, step) = options
        for missed_on, missed_step in missed:
            plan.append(
                _item(invoice, missed_step, missed_on, DispatchStatus.SKIPPED, "superseded")
            )
        plan.append(_decide(invoice, step, runs_on, templates, today, promised))
    return plan


def _item(invoice, step, runs_on, status, reason="", channels=()) -> dict:
    return {
        "invoice": invoice,
        "step": step,
        "runs_on": runs_on,
        "status": status,
        "reason": reason,
        "channels": list(channels),
    }


def _channel_order(step: LadderStep, customer) -> list[str]:
    """The step's channels, the customer's preferred ones first when the step falls back."""
    channels = list(step.channels)
    if step.channel_mode == ChannelMode.FALLBACK and customer.preferred_channels:
        preferred = [c for c in customer.preferred_channels if c in channels]
        channels = preferred + [c for c in channels if c not in preferred]
    return channels


def _decide(invoice: Invoice, step: LadderStep, runs_on, templates, today, promised) -> dict:
    customer = invoice.customer
    skip = None
    if invoice.disputed:
        skip = "disputed"
    elif step.skip_while_promise and invoice.pk in promised:
        skip = "promise_open"
    elif (invoice.paused_until and invoice.paused_until >= today) or (
        customer.paused_until and customer.paused_until >= today
    ):
        skip = "paused"
    elif step.min_amount is not None and invoice.amount_due < step.min_amount:
        skip = "below_min_amount"
    if skip:
        return _item(invoice, step, runs_on, DispatchStatus.SKIPPED, skip)
    if step.kind == StepKind.TASK:
        return _item(invoice, step, runs_on, DispatchStatus.TASK)

    chosen, reasons = [], []
    for channel in _channel_order(step, customer):
        address = customer.address_for(channel)
        template = templates.get((invoice.tenant_id, step.template_key, channel))
        if channel in (customer.opted_out_channels or []):
            reasons.append("opted_out")
        elif not address:
            reasons.append("no_contact")
        elif template is None:
            reasons.append("no_template")
        else:
            chosen.append((channel, address, template))
            if step.channel_mode == ChannelMode.FALLBACK:
                break
    if not chosen:
        reason = reasons[0] if len(set(reasons)) == 1 else "no_reachable_channel"
        return _item(invoice, step, runs_on, DispatchStatus.SKIPPED, reason)
    return _item(invoice, step, runs_on, DispatchStatus.QUEUED, channels=chosen)


ESCALATION_TITLES = {
    "large_account": "Conta grande em atraso: fazer contato pessoal",
    "chronic_late": "Cliente com atrasos frequentes: fazer contato pessoal",
}


def _write(tenants: dict[int, Tenant], plan: list[dict], today: date, results) -> None:
    now = timezone.now()
    dispatches = [
        Dispatch(
            tenant_id=item["invoice"].tenant_id,
            invoice=item["invoice"],
            step=item["step"],
            scheduled_for=item["runs_on"],
            evaluated_on=today,
            status=item["status"],
            reason=item["reason"],
            created_at=now,
        )
        for item in plan
    ]
    bulk_insert(Dispatch, dispatches)
    # Two queries for the whole batch, whether the day makes step or escalation tasks.
    assigners = task_assigners(tenants=tenants.values())
    escalations = {
        tenant_id: _escalation_check(
            tenant, [i for i in plan if i["invoice"].tenant_id == tenant_id]
        )
        for tenant_id, tenant in tenants.items()
        if tenant.escalation_amount is not None or tenant.escalate_chronic_late
    }
    # One message per (invoice, step, channel), or per (customer, step, channel) when the
    # tenant sends one message per customer: the ledger still has a row per invoice × step.
    messages: dict[tuple, Message] = {}
    links, tasks, interactions = [], [], []

    def task(invoice, dispatch, title, origin, step_label, kind):
        assigner = assigners[invoice.tenant_id]
        tasks.append(
            FollowUpTask(
                tenant_id=invoice.tenant_id,
                customer_id=invoice.customer_id,
                invoice=invoice,
                dispatch=dispatch,
                title=title,
                origin=origin,
                due_on=today,
                assignee_id=assigner.next(),
                created_at=now,
            )
        )
        interactions.append(
            Interaction(
                tenant_id=invoice.tenant_id,
                customer_id=invoice.customer_id,
                invoice=invoice,
                kind=kind,
                occurred_at=now,
                summary=title[:300],
                data={"step": step_label},
            )
        )

    for item, dispatch in zip(plan, dispatches, strict=True):
        invoice, step, status = item["invoice"], item["step"], item["status"]
        result = results[invoice.tenant_id]
        result.created += 1
        if status == DispatchStatus.SKIPPED:
            # The ledger row keeps the reason; the invoice page and `explain` show it.
            result.skipped[item["reason"]] += 1
            continue
        if status == DispatchStatus.TASK:
            task(
                invoice,
                dispatch,
                step.task_title or step.label,
                "step",
                step.label,
                InteractionKind.TASK,
            )
            result.tasks += 1
        else:
            tenant = tenants[invoice.tenant_id]
            owner = invoice.customer_id if tenant.one_message_per_customer else invoice.pk
            for channel, address, template in item["channels"]:
                key = (owner, step.pk, channel)
                if key not in messages:
                    messages[key] = Message(
                        tenant_id=invoice.tenant_id,
                        channel=channel,
                        recipient=address,
                        template=template,
                        purpose=MessagePurpose.REMINDER,
                        status=MessageStatus.QUEUED,
                        subject=template.subject,
                        created_at=now,
                    )
                    result.messages += 1
                links.append((messages[key], invoice, dispatch))
        check = escalations.get(invoice.tenant_id)
        reason = check(invoice, step) if check else None
        if reason:
            task(
                invoice,
                None,
                ESCALATION_TITLES[reason],
                "escalation",
                step.label,
                InteractionKind.ESCALATION,
            )
            result.tasks += 1

    bulk_insert(Message, list(messages.values()))
    bulk_insert(
        InvoiceMessage,
        [
            InvoiceMessage(tenant_id=inv.tenant_id, message=m, invoice=inv, dispatch=d)
            for m, inv, d in links
        ],
    )
    bulk_insert(FollowUpTask, tasks)
    bulk_insert(Interaction, interactions)
    by_tenant: dict[int, list[int]] = defaultdict(list)
    for message in messages.values():
        by_tenant[message.tenant_id].append(message.pk)
    for tenant_id, message_ids in by_tenant.items():
        messages_enqueue(tenant=tenants[tenant_id], message_ids=message_ids)


def _escalation_check(tenant: Tenant, plan: list[dict]) -> Callable:
    """Whether an overdue step should also hand the invoice to a person: large accounts (open
    amount at or above the tenant's threshold) and, if the tenant chose so, chronic late
    payers — once per invoice."""
    overdue = [item["invoice"] for item in plan if item["step"].offset_days > 0]
    customer_ids = {inv.customer_id for inv in overdue}
    amounts = open_amounts(customer_ids=customer_ids) if tenant.escalation_amount else {}
    already = set(
        FollowUpTask.objects.filter(
            origin="escalation", invoice_id__in=[inv.pk for inv in overdue]
        ).values_list("invoice_id", flat=True)
    )

    def check(invoice: Invoice, step: LadderStep) -> str | None:
        if step.offset_days <= 0 or invoice.pk in already:
            return None
        reason = None
        if (
            tenant.escalation_amount is not None
            and amounts.get(invoice.customer_id, 0) >= tenant.escalation_amount
        ):
            reason = "large_account"
        elif tenant.escalate_chronic_late and invoice.customer.behaviour == "chronically_late":
            reason = "chronic_late"
        if reason:
            already.add(invoice.pk)
        return reason

    return check


def ladders_run(
    *, today_for, tenant_slug: str | None = None, dry_run: bool = False, tenants=None
) -> list[EvaluationResult]:
    """Evaluate every tenant (or one, or the given ones), in batches of tenants that share
    their local "today" (`today_for(tenant)`)."""
    if tenants is None:
        tenants = Tenant.objects.order_by("pk")
        if tenant_slug:
            tenants = tenants.filter(slug=tenant_slug)
    by_day: dict[date, list[Tenant]] = defaultdict(list)
    for tenant in tenants:
        by_day[today_for(tenant)].append(tenant)
    results = []
    for day, members in by_day.items():
        for i in range(0, len(members), BATCH_TENANTS):
            results.extend(
                ladders_evaluate_many(
                    tenants=members[i : i + BATCH_TENANTS], today=day, dry_run=dry_run
                )
            )
    return results
