"""The daily evaluation: which invoice gets which step today.

For each active step the calendar work is done once per step, not per invoice: the set of
effective due dates whose step day falls in the evaluation window is computed from the tenant's
calendar, and the database returns the open invoices with those dates that have no ledger row
for the step yet. Ledger rows, messages and tasks are then written in bulk. The unique ledger
row (invoice × step) and a tenant row lock make the run safe to repeat or race."""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

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
    StepKind,
)
from ..promises import promises_resolve
from ..segments import open_amounts, segments_assign
from ..tasks_assignment import TaskAssigner

MAX_CATCH_UP_DAYS = 31
# How far a step day can drift from "effective due + offset" (send-day moves, business days).
_DRIFT = 12


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
    business = step.day_kind == DayKind.BUSINESS
    spread = _DRIFT + (abs(step.offset_days) // 2 if business else 0)
    first = start - timedelta(days=step.offset_days + spread)
    last = end - timedelta(days=step.offset_days - spread)
    if business:
        first -= timedelta(days=abs(step.offset_days))
        last += timedelta(days=abs(step.offset_days))
    mapping = {}
    day = first
    while day <= last:
        runs_on = calendar.step_date(day, step.offset_days, business)
        if runs_on is not None and start <= runs_on <= end:
            mapping[day] = runs_on
        day += timedelta(days=1)
    return mapping


def _ladder_filter(step: LadderStep) -> Q:
    own = Q(customer__segment__ladder_id=step.ladder_id)
    return own | Q(customer__segment__isnull=True) if step.ladder.is_default else own


def ladder_evaluate(*, tenant: Tenant, today: date, dry_run: bool = False) -> EvaluationResult:
    """Evaluate one tenant's ladders as if `today` were the tenant's local date.

    Idempotent: a re-run of the same day creates nothing (unique ledger row per invoice ×
    step). After an outage only the latest missed step of each invoice is sent; the others are
    recorded as skipped ("superseded"). An invoice evaluated for the first time starts at the
    ladder's current position: only a step due today is sent. Paid and cancelled invoices are
    counted under `skipped`; disputed, paused and unreachable ones get a skipped ledger row
    with the reason. Messages are queued once the transaction commits."""
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        start = _window_start(tenant, today)
        result = EvaluationResult(
            tenant=tenant.slug,
            date=today.isoformat(),
            window_start=start.isoformat(),
            dry_run=dry_run,
        )
        if not dry_run:
            promises_resolve(tenant=tenant, today=today)
            segments_assign(tenant=tenant)
        calendar = BusinessCalendar.for_tenant(tenant)
        steps = list(
            LadderStep.objects.filter(active=True, ladder__isnull=False)
            .select_related("ladder")
            .order_by("offset_days")
        )
        # invoice id → [(runs_on, step)]
        candidates: dict[int, list] = defaultdict(list)
        invoices: dict[int, Invoice] = {}
        for step in steps:
            due_map = _due_dates_for_step(step, calendar, start, today)
            if not due_map:
                continue
            # A step counts as done for an invoice if any step of the same ladder on the same
            # day already ran for it: replacing a step in the editor never sends it again.
            done = Dispatch.objects.filter(
                invoice=OuterRef("pk"),
                step__ladder_id=step.ladder_id,
                step__offset_days=step.offset_days,
                step__day_kind=step.day_kind,
            )
            base = Invoice.objects.filter(
                _ladder_filter(step), ~Exists(done), effective_due_date__in=due_map
            )
            for row in (
                base.exclude(status=InvoiceStatus.OPEN).values("status").annotate(n=Count("id"))
            ):
                result.skipped[f"invoice_{row['status']}"] += row["n"]
            for invoice in base.filter(status=InvoiceStatus.OPEN).select_related("customer"):
                runs_on = due_map[invoice.effective_due_date]
                if invoice.first_evaluated_on is None and runs_on != today:
                    continue  # before the invoice's first evaluation: not caught up
                invoices[invoice.pk] = invoice
                candidates[invoice.pk].append((runs_on, step))

        templates = _templates(tenant)
        promised = set(
            PaymentPromise.objects.filter(
                status=PromiseStatus.OPEN, promised_date__gte=today, invoice_id__in=invoices
            ).values_list("invoice_id", flat=True)
        )
        plan = _plan(candidates, invoices, templates, today, promised)
        if not dry_run:
            _write(tenant, plan, today, result)
            Invoice.objects.filter(
                first_evaluated_on__isnull=True, status=InvoiceStatus.OPEN
            ).update(first_evaluated_on=today)
            if tenant.last_evaluated_on is None or tenant.last_evaluated_on < today:
                Tenant.objects.filter(pk=tenant.pk).update(last_evaluated_on=today)
        else:
            for item in plan:
                if item["status"] == DispatchStatus.SKIPPED:
                    result.skipped[item["reason"]] += 1
                else:
                    result.created += 1
                    result.messages += len(item["channels"])
                    result.tasks += item["status"] == DispatchStatus.TASK
            result.planned = [
                {
                    "invoice": item["invoice"].external_id,
                    "step": item["step"].label,
                    "status": str(item["status"]),
                    "reason": item["reason"],
                    "channels": [c for c, _addr, _t in item["channels"]],
                }
                for item in plan
            ]
    return result


def _templates(tenant: Tenant) -> dict[tuple[str, str], Template]:
    found = {}
    for template in Template.objects.all():
        if template.locale == tenant.locale or (template.key, template.channel) not in found:
            found[(template.key, template.channel)] = template
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
        template = templates.get((step.template_key, channel))
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


def _write(tenant: Tenant, plan: list[dict], today: date, result: EvaluationResult) -> None:
    now = timezone.now()
    dispatches = Dispatch.objects.bulk_create(
        Dispatch(
            tenant=tenant,
            invoice=item["invoice"],
            step=item["step"],
            scheduled_for=item["runs_on"],
            evaluated_on=today,
            status=item["status"],
            reason=item["reason"],
            created_at=now,
        )
        for item in plan
    )
    result.created = len(dispatches)
    assigner = TaskAssigner(tenant=tenant)
    escalate = _escalation_check(tenant, plan)
    # One message per (invoice, step, channel), or per (customer, step, channel) when the
    # tenant sends one message per customer: the ledger still has a row per invoice × step.
    messages: dict[tuple, Message] = {}
    links, tasks, interactions = [], [], []

    def note(invoice, kind, summary, **data):
        interactions.append(
            Interaction(
                tenant=tenant,
                customer_id=invoice.customer_id,
                invoice=invoice,
                kind=kind,
                occurred_at=now,
                summary=summary[:300],
                data=data,
            )
        )

    def task(invoice, dispatch, title, origin):
        tasks.append(
            FollowUpTask(
                tenant=tenant,
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

    for item, dispatch in zip(plan, dispatches, strict=True):
        invoice, step, status = item["invoice"], item["step"], item["status"]
        if status == DispatchStatus.SKIPPED:
            result.skipped[item["reason"]] += 1
            note(
                invoice,
                InteractionKind.SKIP,
                f"{step.label}: {item['reason']}",
                step=step.label,
                reason=item["reason"],
            )
            continue
        if status == DispatchStatus.TASK:
            title = step.task_title or step.label
            task(invoice, dispatch, title, "step")
            note(invoice, InteractionKind.TASK, title, step=step.label)
        else:
            owner = invoice.customer_id if tenant.one_message_per_customer else invoice.pk
            for channel, address, template in item["channels"]:
                key = (owner, step.pk, channel)
                if key not in messages:
                    messages[key] = Message(
                        tenant=tenant,
                        channel=channel,
                        recipient=address,
                        template=template,
                        purpose=MessagePurpose.REMINDER,
                        status=MessageStatus.QUEUED,
                        subject=template.subject,
                        created_at=now,
                    )
                links.append((messages[key], invoice, dispatch, step))
        reason = escalate(invoice, step)
        if reason:
            title = ESCALATION_TITLES[reason]
            task(invoice, None, title, "escalation")
            note(invoice, InteractionKind.ESCALATION, title, step=step.label, reason=reason)

    Message.objects.bulk_create(messages.values())
    InvoiceMessage.objects.bulk_create(
        InvoiceMessage(tenant=tenant, message=m, invoice=inv, dispatch=d) for m, inv, d, _ in links
    )
    interactions.extend(
        Interaction(
            tenant=tenant,
            customer_id=inv.customer_id,
            invoice=inv,
            message=m,
            kind=InteractionKind.MESSAGE,
            channel=m.channel,
            occurred_at=now,
            summary=f"{step.label}: {m.channel} → {m.recipient}",
            data={"step": step.label, "status": MessageStatus.QUEUED},
        )
        for m, inv, _d, step in links
    )
    FollowUpTask.objects.bulk_create(tasks)
    Interaction.objects.bulk_create(interactions)
    result.messages = len(messages)
    result.tasks = len(tasks)
    messages_enqueue(tenant=tenant, message_ids=[m.pk for m in messages.values()])


ESCALATION_TITLES = {
    "large_account": "Conta grande em atraso: fazer contato pessoal",
    "chronic_late": "Cliente com atrasos frequentes: fazer contato pessoal",
}


def _escalation_check(tenant: Tenant, plan: list[dict]):
    """A function telling whether an overdue step should also hand the invoice to a person:
    large accounts (open amount at or above the tenant's threshold) and, if the tenant chose
    so, chronic late payers — once per invoice. Off until an admin sets a threshold."""
    if tenant.escalation_amount is None and not tenant.escalate_chronic_late:
        return lambda invoice, step: None
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
    *, today_for, tenant_slug: str | None = None, dry_run: bool = False
) -> list[EvaluationResult]:
    """Evaluate every tenant (or one); `today_for(tenant)` gives each tenant's "today"."""
    from django_scopes import scope

    tenants = Tenant.objects.order_by("pk")
    if tenant_slug:
        tenants = tenants.filter(slug=tenant_slug)
    results = []
    for tenant in tenants:
        with scope(tenant=tenant):
            results.append(ladder_evaluate(tenant=tenant, today=today_for(tenant), dry_run=dry_run))
    return results
