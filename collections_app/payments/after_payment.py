"""What happens when payments are recorded: `PAYMENT_FOLLOW_UPS`, in order — the one list.

Each follow-up takes a batch, `PaymentsRecorded` (payments/services.py): the tenant, the moment,
the payments just recorded (each with its invoice, whether it paid it in full and any excess)
and the kind of recording. `invoice_record_payment` runs the list with one live payment inside
its transaction; the import (`imports/payments.py`) runs the same list with a chunk of imported
history, in its transaction. Each follow-up says when it applies, and does its work for the
whole batch at once (one read or write per batch, not per payment), so an import of 100,000
rows stays a few statements per chunk. What must wait for the commit (the thank-you's send, the
webhooks' deliveries) is queued with `transaction.on_commit` by the service it calls.

An imported history is not news (DESIGN invariant 10): no `payment.received` webhook, no
thank-you. Everything else applies to both kinds alike. Where the import's own copy of this list
used to differ, the two now agree:

- attribution: a live payment was attributed whenever a message or a click came before it; the
  import looked only at invoices that had a *reminder*, missing a payment after a click on
  another message about the invoice (a manual one). Both now look at every invoice with a
  message about it, and `payment_attribute` decides.
- the rollups: a live payment refreshes its invoice's days; an import refreshes the days it
  wrote once for the whole file (the importer, `seed_demo`), so its batches say
  `refresh_stats=False` — a flag of the batch, as `classify=False` is for classification.
- the same already, now from one place: the ladder's calls cancelled are those of origin step
  and escalation (`LADDER_ORIGINS`; the import spelled them out), the timeline entry is the
  same (cut to 300 characters, with who recorded it), and the import, which attributed after
  the timeline and classified last, follows this order (the end state is the same).

`apps.py` registers the list at startup: payments/services.py cannot import this module,
because an agreement settling its invoices records payments through it."""

from datetime import timedelta

from collections_app.activity.followups import ladder_tasks_cancel, overpayment_task_create
from collections_app.activity.messages import cancel_queued_reminders, invoice_message_queue
from collections_app.invoices.segments import customers_classify
from collections_app.models import (
    Interaction,
    InteractionKind,
    Invoice,
    InvoiceMessage,
    Ladder,
    PaymentSource,
    WebhookEvent,
)
from collections_app.money import format_money
from collections_app.payments.agreements import agreement_instalment_paid
from collections_app.payments.promises import promises_keep
from collections_app.payments.services import PaymentsRecorded, Recording, payment_attribute
from collections_app.stats.rollups import stats_refresh_invoices
from collections_app.webhooks_out.events import invoice_data, webhook_emit_many
from messaging.models import Message, MessagePurpose, MessageStatus, Template
from tenants.models import Tenant

# DESIGN invariant 10: a payment recorded later than this after it happened is history.
THANK_YOU_MAX_DELAY = timedelta(days=3)


def attribution(recorded: PaymentsRecorded) -> None:
    """Every payment but an agreement's: attributed to the last message or click about its
    invoice before it (`payment_attribute`). Only invoices with a message about them can have
    one: they are found in one read, the others cost nothing."""
    facts = [f for f in recorded.payments if f.payment.source != PaymentSource.AGREEMENT]
    if not facts:
        return
    messaged = set(
        InvoiceMessage.objects.filter(invoice_id__in={f.invoice.pk for f in facts}).values_list(
            "invoice_id", flat=True
        )
    )
    for fact in facts:
        if fact.invoice.pk in messaged:
            payment_attribute(payment=fact.payment, invoice=fact.invoice)


def rollups_refresh(recorded: PaymentsRecorded) -> None:
    """Every payment: the dashboard's rollups of its invoice's days — unless the caller
    refreshes them itself once for a whole import (`refresh_stats=False`)."""
    if recorded.refresh_stats:
        stats_refresh_invoices(
            tenant_id=recorded.tenant.pk, invoices=[f.invoice for f in recorded.payments]
        )


def payment_received_emit(recorded: PaymentsRecorded) -> None:
    """Live payments: `payment.received`, except for the payments an agreement makes on the
    invoices it replaced (bookkeeping, not money received). Imported history is not news."""
    if recorded.recording != Recording.LIVE:
        return
    items = [
        (
            f"payment:{f.payment.pk}",
            {
                "payment_id": f.payment.pk,
                "external_id": f.payment.external_id,
                "amount": str(f.payment.amount),
                "paid_at": f.payment.paid_at.isoformat(),
                "source": f.payment.source,
                "invoice": invoice_data(f.invoice),
            },
        )
        for f in recorded.payments
        if f.payment.source != PaymentSource.AGREEMENT
    ]
    if items:
        webhook_emit_many(
            tenant_id=recorded.tenant.pk, event=WebhookEvent.PAYMENT_RECEIVED, items=items
        )


def payment_log(recorded: PaymentsRecorded) -> None:
    """Every payment: its entry in the customer's timeline, dated when it was paid (one insert
    for the batch)."""
    tenant = recorded.tenant
    Interaction.objects.bulk_create(
        [
            Interaction(
                tenant=tenant,
                customer_id=f.invoice.customer_id,
                invoice=f.invoice,
                kind=InteractionKind.PAYMENT,
                actor=f.payment.recorded_by,
                occurred_at=f.payment.paid_at,
                summary=(
                    f"{format_money(f.payment.amount, f.invoice.currency, tenant.locale)} "
                    f"({f.payment.source})"
                )[:300],
                data={
                    "payment_id": f.payment.pk,
                    "amount": str(f.payment.amount),
                    "source": f.payment.source,
                },
            )
            for f in recorded.payments
        ],
        batch_size=1000,
    )


def reminders_cancel(recorded: PaymentsRecorded) -> None:
    """Paid in full: the ladder stops at once, the invoices' queued reminders are cancelled."""
    if invoices := recorded.invoices_paid_in_full:
        cancel_queued_reminders(tenant=recorded.tenant, invoices=invoices, reason="invoice_paid")


def promises_kept(recorded: PaymentsRecorded) -> None:
    """Paid in full: the invoices' open promises were kept."""
    if invoices := recorded.invoices_paid_in_full:
        promises_keep(invoices=invoices, now=recorded.now)


def customer_classify(recorded: PaymentsRecorded) -> None:
    """Paid in full: the customers' behaviour classes (segments) are computed again, once for
    the batch — unless the caller classifies once for a whole import (`classify=False`)."""
    if recorded.classify and (invoices := recorded.invoices_paid_in_full):
        customers_classify(tenant=recorded.tenant, customer_ids={i.customer_id for i in invoices})


def ladder_tasks_close(recorded: PaymentsRecorded) -> None:
    """Paid in full: the ladder's calls about the invoices have nothing left to ask for."""
    if invoices := recorded.invoices_paid_in_full:
        ladder_tasks_cancel(invoices=invoices, now=recorded.now)


def thank_you(recorded: PaymentsRecorded) -> None:
    """A live payment that paid its invoice in full within 3 days of being made, after a
    reminder went out: the ladder's thank-you e-mail is queued (sent after commit) — unless the
    caller said not to. Imported history is not news (invariant 10)."""
    if recorded.recording != Recording.LIVE or not recorded.thank_you:
        return
    fresh = [
        f.invoice
        for f in recorded.paid_in_full
        if recorded.now - f.payment.paid_at <= THANK_YOU_MAX_DELAY
    ]
    reminded = _reminded(fresh)
    for invoice in fresh:
        if invoice.pk in reminded:
            _queue_thank_you(tenant=recorded.tenant, invoice=invoice)


def agreement_progress(recorded: PaymentsRecorded) -> None:
    """An instalment paid in full may complete its agreement."""
    for invoice in recorded.invoices_paid_in_full:
        if invoice.agreement_id is not None:
            agreement_instalment_paid(tenant=recorded.tenant, invoice=invoice)


def overpayment(recorded: PaymentsRecorded) -> None:
    """More than the invoice's amount: the team gets a task to refund or credit the excess."""
    for f in recorded.payments:
        if f.excess > 0:
            overpayment_task_create(
                tenant=recorded.tenant, invoice=f.invoice, payment=f.payment, excess=f.excess
            )


PAYMENT_FOLLOW_UPS = (
    attribution,
    rollups_refresh,
    payment_received_emit,
    payment_log,
    reminders_cancel,
    promises_kept,
    customer_classify,
    ladder_tasks_close,
    thank_you,
    agreement_progress,
    overpayment,
)


def _reminded(invoices: list[Invoice]) -> set[int]:
    """The ids of those invoices that a reminder was sent about."""
    if not invoices:
        return set()
    return set(
        InvoiceMessage.objects.filter(
            invoice_id__in=[invoice.pk for invoice in invoices],
            message__purpose=MessagePurpose.REMINDER,
            message__status__in=[MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ],
        ).values_list("invoice_id", flat=True)
    )


def _queue_thank_you(*, tenant: Tenant, invoice: Invoice) -> Message | None:
    customer = invoice.customer
    segment_ladder = customer.segment.ladder if customer.segment_id else None
    ladder = segment_ladder or Ladder.objects.filter(is_default=True).first()
    address = customer.address_for("email")
    if ladder is None or not ladder.thank_you_template_key or not address:
        return None
    template = (
        Template.objects.filter(key=ladder.thank_you_template_key, channel="email")
        .order_by("-locale")
        .first()
    )
    if template is None:
        return None
    return invoice_message_queue(
        tenant=tenant,
        invoice=invoice,
        recipient=address,
        template=template,
        purpose=MessagePurpose.THANK_YOU,
        summary=f"Agradecimento: email → {address}",
        data={"status": MessageStatus.QUEUED},
    )
