"""Writing the day's plan: ledger rows, messages with their invoice links, follow-up tasks and
their timeline entries, as a handful of bulk inserts for a whole group of tenants; then the
messages' sends are queued in batches and `task.created` goes to the tenants that listen."""

from collections import defaultdict
from datetime import date

from django.utils import timezone

from collections_app.activity.assignment import task_assigners
from collections_app.activity.followups import tasks_emit
from collections_app.engine.bulk import insert_rows
from collections_app.engine.due import DueInvoice
from collections_app.engine.plan import Decision
from collections_app.invoices.segments import open_amounts
from collections_app.models import (
    Dispatch,
    DispatchStatus,
    FollowUpTask,
    Interaction,
    InteractionKind,
    InvoiceMessage,
    LadderStep,
    WebhookEndpoint,
    WebhookEvent,
)
from messaging.enqueue import messages_enqueue_many
from messaging.models import Message, MessagePurpose, MessageStatus, new_message_refs
from tenants.models import Tenant

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


def plan_write(
    *,
    tenants: dict[int, Tenant],
    plan: list[Decision],
    today: date,
    results: dict,
) -> None:
    """Write the day's ledger rows, messages with their invoice links, and tasks with their
    timeline entries, as plain rows, counting them in each tenant's result (`results`: tenant
    id → its EvaluationResult); then queue the messages' sends in batches. A decision already
    in the ledger (unique invoice × step) fails the write, and the caller's transaction with
    it, rather than contact a customer twice."""
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


def _tasks_emit(task_ids: list[int], *, tenant_ids: set[int]) -> None:
    """`task.created` for the day's new tasks of the tenants that listen for it (one query
    when none does)."""
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
