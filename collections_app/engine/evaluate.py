"""The daily evaluation: which invoice gets which step today.

Set-based, for many tenants at once. Tenants that share a calendar and an evaluation window are
evaluated together: the calendar work is done once per step shape (offset, calendar or business
days), giving the effective due dates whose step day falls in the window; one statement
(`due.due_rows`) returns the invoice × step pairs of the group that the ledger does not hold
yet. The plan is made on plain tuples (`plan`) and written with a handful of bulk inserts
(`plan_write`). The unique ledger row (invoice × step) and the tenant row locks make a run safe
to repeat or race. `ladders_run` evaluates every tenant in batches, on threads where the
database allows."""

from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date

from django.db import connection, transaction
from django.utils import timezone
from django_scopes import scope

from collections_app.calendar import BusinessCalendar
from collections_app.engine.due import DueInvoice, due_rows
from collections_app.engine.plan import plan_make
from collections_app.engine.plan_write import plan_write
from collections_app.engine.rules import invoice_closed_reason
from collections_app.engine.templates import GroupTemplates
from collections_app.engine.window import due_dates, window_start
from collections_app.invoices.segments import segments_assign_many
from collections_app.models import DispatchStatus, LadderStep, PaymentPromise, PromiseStatus
from collections_app.payments.agreements import agreements_check
from collections_app.payments.promises import promises_resolve
from collections_app.webhooks_out.events import overdue_emit
from tenants.models import Tenant

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
                start = window_start(tenant, today)
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
    """Before deciding: close promises whose date passed, break agreements with an instalment
    unpaid past its grace period, and put each customer of the tenants
    that have segments in its segment (behaviour classes are kept current by payments)."""
    promises_resolve(tenant=None, today=today)
    agreements_check(tenants=tenants, today=today)
    overdue_emit(tenants=tenants, today=today)
    segments_assign_many(tenants=tenants)


def _evaluate_group(tenants, calendar, start, today, results, dry_run) -> None:
    tenant_ids = [t.pk for t in tenants]
    steps = list(LadderStep.objects.filter(tenant_id__in=tenant_ids, active=True))
    # (offset, day kind) → {effective due date: day the step runs}
    shapes = {
        shape: due_dates(*shape, calendar, start, today)
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

    templates = GroupTemplates(tenants)
    # invoice → the latest date of its open promise, for the promises that still run today.
    promised: dict[int, date] = {}
    for invoice_id, promised_date in PaymentPromise.objects.filter(
        tenant_id__in=tenant_ids,
        status=PromiseStatus.OPEN,
        promised_date__gte=today,
        invoice__effective_due_date__in=by_due,
    ).values_list("invoice_id", "promised_date"):
        promised[invoice_id] = max(promised_date, promised.get(invoice_id, promised_date))
    plan = plan_make(
        candidates=candidates,
        invoices=invoices,
        templates=templates,
        today=today,
        promised=promised,
    )
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
    plan_write(tenants={t.pk: t for t in tenants}, plan=plan, today=today, results=results)


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
