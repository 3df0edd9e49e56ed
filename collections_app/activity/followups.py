"""Follow-up tasks: the calls and checks the team is asked to make, each given to an agent,
announced to the tenant's webhooks (`task.created`) and written into the customer's timeline."""

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from collections_app.activity.assignment import task_assigners
from collections_app.activity.timeline import interaction_log
from collections_app.models import (
    FollowUpTask,
    InteractionKind,
    Invoice,
    Payment,
    TaskStatus,
    WebhookEvent,
)
from collections_app.money import format_money
from collections_app.webhooks_out.events import webhook_emit_many
from tenants.models import Tenant

# The tasks the ladder opens about an invoice: they ask for a payment.
LADDER_ORIGINS = ("step", "escalation")


def followup_task_create(
    *,
    tenant: Tenant,
    customer_id: int,
    title: str,
    origin: str,
    invoice: Invoice | None = None,
    notes: str = "",
    data: dict | None = None,
    assignee_id: int | None = None,
) -> FollowUpTask:
    """A task for the team, due today, given to `assignee_id` or else the next agent
    (`task_assigners`), with its entry in the timeline."""
    task = FollowUpTask.objects.create(
        tenant=tenant,
        customer_id=customer_id,
        invoice=invoice,
        title=title[:200],
        origin=origin,
        notes=notes[:2000],
        due_on=timezone.localdate(),
        assignee_id=assignee_id or task_assigners(tenants=[tenant])[tenant.pk].next(),
    )
    tasks_emit(tenant_id=tenant.pk, tasks=[task])
    interaction_log(
        tenant=tenant,
        customer_id=customer_id,
        invoice=invoice,
        kind=InteractionKind.TASK,
        summary=task.title,
        data={"task_id": task.pk, "origin": origin, **(data or {})},
    )
    return task


def tasks_emit(*, tenant_id: int, tasks) -> None:
    """`task.created` for new follow-up tasks."""
    webhook_emit_many(
        tenant_id=tenant_id,
        event=WebhookEvent.TASK_CREATED,
        items=(
            (
                f"task:{task.pk}",
                {
                    "task_id": task.pk,
                    "title": task.title,
                    "origin": task.origin,
                    "due_on": task.due_on.isoformat() if task.due_on else None,
                    "customer_id": task.customer_id,
                    "invoice_id": task.invoice_id,
                    "assignee": getattr(task.assignee, "email", None) if task.assignee_id else None,
                },
            )
            for task in tasks
        ),
    )


def task_close(*, tenant: Tenant, task: FollowUpTask, actor=None) -> FollowUpTask:
    """Mark an open task done, with its entry in the timeline ("Tarefa concluída: …"), in one
    transaction. Idempotent: a task already done or cancelled is returned as it is, and only
    one of two people closing the same task at once writes the entry (a conditional UPDATE)."""
    if task.tenant_id != tenant.pk:
        raise FollowUpTask.DoesNotExist
    now = timezone.now()
    with transaction.atomic():
        closed = FollowUpTask.objects.filter(pk=task.pk, status=TaskStatus.OPEN).update(
            status=TaskStatus.DONE, completed_at=now
        )
        if not closed:
            task.refresh_from_db(fields=["status", "completed_at"])
            return task
        task.status, task.completed_at = TaskStatus.DONE, now
        interaction_log(
            tenant=tenant,
            customer_id=task.customer_id,
            invoice=task.invoice,
            kind=InteractionKind.TASK,
            actor=actor,
            summary=f"Tarefa concluída: {task.title}",
            data={"task_id": task.pk, "status": TaskStatus.DONE},
        )
    return task


def ladder_tasks_cancel(*, invoices: Iterable[Invoice], now: datetime) -> int:
    """The ladder's open calls about the invoices are cancelled (it has nothing left to ask
    for), in one update. Returns how many."""
    ids = [invoice.pk for invoice in invoices]
    if not ids:
        return 0
    return FollowUpTask.objects.filter(
        invoice_id__in=ids, status=TaskStatus.OPEN, origin__in=LADDER_ORIGINS
    ).update(status=TaskStatus.CANCELLED, completed_at=now)


def overpayment_task_create(
    *, tenant: Tenant, invoice: Invoice, payment: Payment, excess: Decimal
) -> FollowUpTask:
    """A task to refund or credit what `payment` paid beyond the invoice's amount."""
    return followup_task_create(
        tenant=tenant,
        customer_id=invoice.customer_id,
        invoice=invoice,
        title=(
            f"Pagamento a maior em {invoice}: "
            f"{format_money(excess, invoice.currency, tenant.locale)} acima do valor — "
            "devolver ou abater"
        ),
        origin="overpayment",
        data={"payment_id": payment.pk, "excess": str(excess)},
    )
