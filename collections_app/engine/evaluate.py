"""The daily evaluation: which invoice gets which step today.

Set-based, for many tenants at once. Tenants that share a calendar and an evaluation window are
evaluated together: the calendar work is done once per step shape (offset, calendar or business
days), giving the effective due dates whose step day falls in the window; one statement
(`due.due_rows`) returns the invoice × step pairs of the group that the ledger does not hold
yet. The plan is made on plain tuples and written with a handful of bulk inserts. The unique
ledger row (invoice × step) and the tenant row locks make a run safe to repeat or race."""

from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import NamedTuple

from django.db import connection, transaction
from django.utils import timezone
from django_scopes import scope

from collections_app.activity.assignment import task_assigners
from collections_app.calendar import BusinessCalendar
from collections_app.engine.bulk import insert_rows
from collections_app.engine.channels import channels_pick
from collections_app.engine.due import DueInvoice, due_rows
from collections_app.engine.rules import (
    StepFacts,
    below_minimum,
    invoice_closed_reason,
    step_skip_reason,
)
from collections_app.invoices.segments import open_amounts, segments_assign_many
from collections_app.models import (
    DayKind,
    Dispatch,
    DispatchStatus,
    FollowUpTask,
    Interaction,
    InteractionKind,
    InvoiceMessage,
    LadderStep,
    PaymentPromise,
    PromiseStatus,
    StepKind,
    contact_addresses,
)
from collections_app.payments.agreements import agreements_check
from collections_app.payments.promises import promises_resolve
from collections_app.webhooks_out.events import overdue_emit
from messaging.enqueue import messages_enqueue_many
from messaging.models import Message, MessagePurpose, MessageStatus, Template, new_message_refs
from tenants.models import Tenant

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
    step; a ledger row for the same offset and day kind, of any ladder, as after an edit or a
    segment move, counts as done). After an outage only the latest missed step of each
    invoice is sent; the others are recorded as skipped
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


def _tasks_emit(task_ids: list[int], *, tenant_ids: set[int]) -> None:
    """`task.created` for the day's new tasks of the tenants that listen for it (one query
    when none does)."""
    from collections_app.activity.followups import tasks_emit
    from collections_app.models import WebhookEndpoint, WebhookEvent

    if not task_ids:
        return
    listening = {
        e.tenant_id
        for e in WebhookEndpoint.objects.filter(tenant_id__in=tenant_ids, active=True)
        if WebhookEvent.TASK_CREATED in e.events
    }
    if not listening:
        return
    by_tenant: dict[int, list] = defaultdict(list)
    for task in FollowUpTask.objects.filter(
        pk__in=task_ids, tenant_id__in=listening
    ).select_related("assignee"):
        by_tenant[task.tenant_id].append(task)
    for tenant_id, tasks in by_tenant.items():
        tasks_emit(tenant_id=tenant_id, tasks=tasks)


def _prepare(tenants: list[Tenant], today: date) -> None:
    """Before deciding: close promises whose date passed, break agreements with an instalment
    unpaid past its grace period, and put each customer of the tenants
    that have segments in its segment (behaviour classes are kept current by payments)."""
    promises_resolve(tenant=None, today=today)
    agreements_check(tenants=tenants, today=today)
    overdue_emit(tenants=tenants, today=today)
    segments_assign_many(tenants=tenants)


class Decision(NamedTuple):
    """What the day does with one invoice × step; `channels` holds (channel, address,
    template id, template subject) for a queued message step."""

    invoice: DueInvoice
    step: LadderStep
    runs_on: date
    status: str
    reason: str = ""
    channels: tuple = ()


def _evaluate_group(tenants, calendar, start, today, results, dry_run) -> None:
    tenant_ids = [t.pk for t in tenants]
    steps = list(LadderStep.objects.filter(tenant_id__in=tenant_ids, active=True))
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
    steps_by_id = {step.pk: step for step in steps}
    slots = [
        (offset, kind, due, runs_on)
        for due, shapes_due in by_due.items()
        for (offset, kind), runs_on in shapes_due
    ]
    candidates: dict[int, list] = defaultdict(list)
    invoices: dict[int, DueInvoice] = {}
    for invoice, step_id, runs_on in due_rows(tenant_ids=tenant_ids, slots=slots, today=today):
        if closed := invoice_closed_reason(invoice.status):
            results[invoice.tenant_id].skipped[closed] += 1
            continue
        invoices[invoice.id] = invoice
        candidates[invoice.id].append((runs_on, steps_by_id[step_id]))
    if not candidates:
        return

    templates = _Templates(tenants)
    # invoice → the latest date of its open promise, for the promises that still run today.
    promised: dict[int, date] = {}
    for invoice_id, promised_date in PaymentPromise.objects.filter(
        tenant_id__in=tenant_ids,
        status=PromiseStatus.OPEN,
        promised_date__gte=today,
        invoice__effective_due_date__in=by_due,
    ).values_list("invoice_id", "promised_date"):
        promised[invoice_id] = max(promised_date, promised.get(invoice_id, promised_date))
    plan = _plan(candidates, invoices, templates, today, promised)
    if dry_run:
        for decision in plan:
            result = results[decision.invoice.tenant_id]
            if decision.status == DispatchStatus.SKIPPED:
                result.skipped[decision.reason] += 1
            else:
                result.created += 1
                result.messages += len(decision.channels)
                result.tasks += decision.status == DispatchStatus.TASK
            result.planned.append(
                {
                    "invoice": decision.invoice.external_id,
                    "step": decision.step.label,
                    "status": str(decision.status),
                    "reason": decision.reason,
                    "channels": [c for c, *_rest in decision.channels],
                }
            )
        return
    _write({t.pk: t for t in tenants}, plan, today, results)


class _Templates:
    """A group's templates: (tenant, key, channel) → (template id, subject), in the tenant's
    locale when it has one, else any; and per tenant the (key, channel) pairs it has."""

    def __init__(self, tenants: list[Tenant]):
        locale = {t.pk: t.locale for t in tenants}
        self.found: dict[tuple[int, str, str], tuple[int, str]] = {}
        self.keys: dict[int, set[tuple[str, str]]] = defaultdict(set)
        rows = Template.objects.filter(tenant_id__in=locale).values_list(
            "id", "tenant_id", "key", "channel", "locale", "subject"
        )
        for template_id, tenant_id, key, channel, template_locale, subject in rows:
            found_key = (tenant_id, key, channel)
            if template_locale == locale[tenant_id] or found_key not in self.found:
                self.found[found_key] = (template_id, subject)
            self.keys[tenant_id].add((key, channel))


def _plan(candidates, invoices, templates, today, promised) -> list[Decision]:
    plan = []
    for invoice_id, options in candidates.items():
        options.sort(key=lambda o: (o[0], o[1].offset_days))
        invoice = invoices[invoice_id]
        *missed, (runs_on, step) = options
        for missed_on, missed_step in missed:
            plan.append(
                Decision(invoice, missed_step, missed_on, DispatchStatus.SKIPPED, "superseded")
            )
        plan.append(_decide(invoice, step, runs_on, templates, today, promised))
    return plan


def _decide(
    invoice: DueInvoice,
    step: LadderStep,
    runs_on: date,
    templates: _Templates,
    today: date,
    promised: dict[int, date],
) -> Decision:
    """The day's decision for the invoice's latest due step, judged today (`rules`, then the
    channel choice for a message step)."""
    facts = StepFacts(
        status=invoice.status,
        disputed=invoice.disputed,
        paused_until=invoice.paused_until,
        customer_paused_until=invoice.customer_paused_until,
        promised_until=promised.get(invoice.id),
        skip_while_promise=step.skip_while_promise,
        below_min_amount=below_minimum(amount_due=invoice.amount_due, min_amount=step.min_amount),
    )
    if skip := step_skip_reason(facts, on=today):
        return Decision(invoice, step, runs_on, DispatchStatus.SKIPPED, skip)
    if step.kind == StepKind.TASK:
        return Decision(invoice, step, runs_on, DispatchStatus.TASK)

    addresses = contact_addresses(
        email=invoice.email, phone=invoice.phone, whatsapp=invoice.whatsapp
    )
    chosen, reason = channels_pick(
        step=step,
        preferred=invoice.preferred_channels,
        opted_out=invoice.opted_out_channels,
        invalid=invoice.invalid_channels,
        reachable=addresses,
        templates=templates.keys.get(invoice.tenant_id, ()),
    )
    if not chosen:
        return Decision(invoice, step, runs_on, DispatchStatus.SKIPPED, reason)
    channels = tuple(
        (c, addresses[c], *templates.found[(invoice.tenant_id, step.template_key, c)])
        for c in chosen
    )
    return Decision(invoice, step, runs_on, DispatchStatus.QUEUED, channels=channels)


ESCALATION_TITLES = {
    "large_account": "Conta grande em atraso: fazer contato pessoal",
    "chronic_late": "Cliente com atrasos frequentes: fazer contato pessoal",
}

DISPATCH_FIELDS = (
    "tenant_id",
    "invoice_id",
    "step_id",
    "scheduled_for",
    "evaluated_on",
    "status",
    "reason",
    "created_at",
)
MESSAGE_FIELDS = (
    "tenant_id",
    "channel",
    "recipient",
    "template_id",
    "purpose",
    "status",
    "subject",
    "created_at",
    "ref",
)
LINK_FIELDS = ("tenant_id", "message_id", "invoice_id", "dispatch_id")
TASK_FIELDS = (
    "tenant_id",
    "customer_id",
    "invoice_id",
    "dispatch_id",
    "title",
    "origin",
    "assignee_id",
    "due_on",
    "created_at",
)
INTERACTION_FIELDS = (
    "tenant_id",
    "customer_id",
    "invoice_id",
    "kind",
    "occurred_at",
    "summary",
    "data",
)


def _write(tenants: dict[int, Tenant], plan: list[Decision], today: date, results) -> None:
    """Write the day's ledger rows, messages with their invoice links, and tasks with their
    timeline entries, as plain rows; then queue the messages' sends in batches."""
    now = timezone.now()
    dispatch_ids = insert_rows(
        Dispatch,
        DISPATCH_FIELDS,
        [
            (inv.tenant_id, inv.id, d.step.pk, d.runs_on, today, d.status, d.reason, now)
            for d in plan
            for inv in (d.invoice,)
        ],
    )
    # Two queries for the whole batch, whether the day makes step or escalation tasks.
    assigners = task_assigners(tenants=tenants.values())
    escalations = _Escalations(tenants, plan)
    # One message per (invoice, step, channel), or per (customer, step, channel) when the
    # tenant sends one message per customer: the ledger still has a row per invoice × step.
    message_index: dict[tuple, int] = {}
    messages, links, tasks, interactions = [], [], [], []

    def task(invoice: DueInvoice, dispatch_id, title, origin, step_label, kind):
        tasks.append(
            (
                invoice.tenant_id,
                invoice.customer_id,
                invoice.id,
                dispatch_id,
                title,
                origin,
                assigners[invoice.tenant_id].next(),
                today,
                now,
            )
        )
        interactions.append(
            (
                invoice.tenant_id,
                invoice.customer_id,
                invoice.id,
                kind,
                now,
                title[:300],
                {"step": step_label},
            )
        )

    for decision, dispatch_id in zip(plan, dispatch_ids, strict=True):
        invoice, step, status = decision.invoice, decision.step, decision.status
        result = results[invoice.tenant_id]
        result.created += 1
        if status == DispatchStatus.SKIPPED:
            # The ledger row keeps the reason; the invoice page and `explain` show it.
            result.skipped[decision.reason] += 1
            continue
        if status == DispatchStatus.TASK:
            title = step.task_title or step.label
            task(invoice, dispatch_id, title, "step", step.label, InteractionKind.TASK)
            result.tasks += 1
        else:
            tenant = tenants[invoice.tenant_id]
            owner = invoice.customer_id if tenant.one_message_per_customer else invoice.id
            for channel, address, template_id, subject in decision.channels:
                key = (owner, step.pk, channel)
                index = message_index.get(key)
                if index is None:
                    index = message_index[key] = len(messages)
                    messages.append(
                        (
                            invoice.tenant_id,
                            channel,
                            address,
                            template_id,
                            MessagePurpose.REMINDER,
                            MessageStatus.QUEUED,
                            subject,
                            now,
                        )
                    )
                    result.messages += 1
                links.append((invoice.tenant_id, index, invoice.id, dispatch_id))
        if reason := escalations.reason(invoice, step):
            title = ESCALATION_TITLES[reason]
            task(invoice, None, title, "escalation", step.label, InteractionKind.ESCALATION)
            result.tasks += 1

    refs = new_message_refs(len(messages))
    message_ids = insert_rows(
        Message, MESSAGE_FIELDS, [(*row, ref) for row, ref in zip(messages, refs, strict=True)]
    )
    insert_rows(
        InvoiceMessage,
        LINK_FIELDS,
        [(tenant_id, message_ids[i], inv, d) for tenant_id, i, inv, d in links],
    )
    task_ids = insert_rows(FollowUpTask, TASK_FIELDS, tasks)
    insert_rows(Interaction, INTERACTION_FIELDS, interactions)
    _tasks_emit(task_ids, tenant_ids={row[0] for row in tasks})
    messages_enqueue_many(message_ids=message_ids)


class _Escalations:
    """Whether an overdue step should also hand the invoice to a person: large accounts (open
    amount at or above the tenant's threshold) and, if the tenant chose so, chronic late
    payers — once per invoice. Two queries for the whole batch."""

    def __init__(self, tenants: dict[int, Tenant], plan: list[Decision]):
        self.tenants = {
            pk: t
            for pk, t in tenants.items()
            if t.escalation_amount is not None or t.escalate_chronic_late
        }
        overdue = [
            d.invoice
            for d in plan
            if d.invoice.tenant_id in self.tenants and d.step.offset_days > 0
        ]
        by_amount = {
            inv.customer_id
            for inv in overdue
            if self.tenants[inv.tenant_id].escalation_amount is not None
        }
        self.amounts = open_amounts(customer_ids=by_amount) if by_amount else {}
        self.already = (
            set(
                FollowUpTask.objects.filter(
                    origin="escalation", invoice_id__in=[inv.id for inv in overdue]
                ).values_list("invoice_id", flat=True)
            )
            if overdue
            else set()
        )

    def reason(self, invoice: DueInvoice, step: LadderStep) -> str | None:
        tenant = self.tenants.get(invoice.tenant_id)
        if tenant is None or step.offset_days <= 0 or invoice.id in self.already:
            return None
        reason = None
        if (
            tenant.escalation_amount is not None
            and self.amounts.get(invoice.customer_id, 0) >= tenant.escalation_amount
        ):
            reason = "large_account"
        elif tenant.escalate_chronic_late and invoice.behaviour == "chronically_late":
            reason = "chronic_late"
        if reason:
            self.already.add(invoice.id)
        return reason


def parallel_workers(requested: int) -> int:
    """How many batches can be evaluated at once here: `requested` on PostgreSQL outside a
    transaction; one on SQLite, which has a single writer (the batches then run in turn)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return 1
    return max(1, requested)


def one_writer_note(requested: int) -> str:
    """What a command says when it cannot evaluate `requested` batches at once."""
    return (
        f"--workers {requested}: this database (SQLite) has one writer, so the batches of "
        "tenants are evaluated one after another. PostgreSQL evaluates them in parallel."
    )


def ladders_run(
    *,
    today_for,
    tenant_slug: str | None = None,
    dry_run: bool = False,
    tenants=None,
    workers: int = 1,
) -> list[EvaluationResult]:
    """Evaluate every tenant (or one, or the given ones), in batches of tenants that share
    their local "today" (`today_for(tenant)`). Results come in the order of the tenants.

    With `workers` > 1 on PostgreSQL the batches run on that many threads, each with its own
    database connection and transaction, as that many Celery workers would take beat's batch
    tasks: one batch's Python work overlaps another's database work. Inside an open
    transaction, or on SQLite (one writer at a time), batches run one after the other."""
    if tenants is None:
        tenants = Tenant.objects.order_by("pk")
        if tenant_slug:
            tenants = tenants.filter(slug=tenant_slug)
    by_day: dict[date, list[Tenant]] = defaultdict(list)
    for tenant in tenants:
        by_day[today_for(tenant)].append(tenant)
    batches = [
        (day, members[i : i + BATCH_TENANTS])
        for day, members in by_day.items()
        for i in range(0, len(members), BATCH_TENANTS)
    ]
    workers = parallel_workers(workers)
    if workers == 1 or len(batches) == 1:
        return [
            result
            for day, batch in batches
            for result in ladders_evaluate_many(tenants=batch, today=day, dry_run=dry_run)
        ]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ladders") as pool:
        futures = [
            pool.submit(_evaluate_on_own_connection, batch, day, dry_run) for day, batch in batches
        ]
        return [result for future in futures for result in future.result()]


def _evaluate_on_own_connection(tenants, today, dry_run) -> list[EvaluationResult]:
    try:
        return ladders_evaluate_many(tenants=tenants, today=today, dry_run=dry_run)
    finally:
        connection.close()  # this thread's connection
