"""What happens when a payment is recorded: `PAYMENT_FOLLOW_UPS`, in order.

`invoice_record_payment` (payments/services.py) writes the payment and the invoice's new amount
paid, then runs each of these inside its transaction, with a `PaymentRecorded`. Each says when
it applies. What must wait for the commit (the thank-you's send, the webhooks' deliveries) is
queued with `transaction.on_commit` by the service it calls. `apps.py` registers the list at
startup: payments/services.py cannot import this module, because an agreement settling its
invoices records payments through it."""

from datetime import timedelta

from collections_app.activity.followups import ladder_tasks_cancel, overpayment_task_create
from collections_app.activity.messages import cancel_queued_reminders, invoice_message_queue
from collections_app.activity.timeline import interaction_log
from collections_app.invoices.segments import customers_classify
from collections_app.models import InteractionKind, Invoice, Ladder, PaymentSource, WebhookEvent
from collections_app.money import format_money
from collections_app.payments.agreements import agreement_instalment_paid
from collections_app.payments.promises import promises_keep
from collections_app.payments.services import PaymentRecorded
from collections_app.stats.rollups import stats_refresh_invoices
from collections_app.webhooks_out.events import invoice_data, webhook_emit
from messaging.models import Message, MessagePurpose, MessageStatus, Template
from tenants.models import Tenant

# DESIGN invariant 10: a payment recorded later than this after it happened is history.
THANK_YOU_MAX_DELAY = timedelta(days=3)


def rollups_refresh(recorded: PaymentRecorded) -> None:
    """Every payment: the dashboard's rollups of the invoice's days."""
    stats_refresh_invoices(tenant_id=recorded.tenant.pk, invoices=[recorded.invoice])


def payment_received_emit(recorded: PaymentRecorded) -> None:
    """`payment.received`, except for the payments an agreement makes on the invoices it
    replaced (bookkeeping, not money received)."""
    payment = recorded.payment
    if payment.source == PaymentSource.AGREEMENT:
        return
    webhook_emit(
        tenant_id=recorded.tenant.pk,
        event=WebhookEvent.PAYMENT_RECEIVED,
        dedupe_key=f"payment:{payment.pk}",
        data={
            "payment_id": payment.pk,
            "external_id": payment.external_id,
            "amount": str(payment.amount),
            "paid_at": payment.paid_at.isoformat(),
            "source": payment.source,
            "invoice": invoice_data(recorded.invoice),
        },
    )


def payment_log(recorded: PaymentRecorded) -> None:
    """Every payment: its entry in the customer's timeline, dated when it was paid."""
    tenant, invoice, payment = recorded.tenant, recorded.invoice, recorded.payment
    amount = format_money(payment.amount, invoice.currency, tenant.locale)
    interaction_log(
        tenant=tenant,
        customer_id=invoice.customer_id,
        invoice=invoice,
        kind=InteractionKind.PAYMENT,
        actor=payment.recorded_by,
        occurred_at=payment.paid_at,
        summary=f"{amount} ({payment.source})",
        data={"payment_id": payment.pk, "amount": str(payment.amount), "source": payment.source},
    )


def reminders_cancel(recorded: PaymentRecorded) -> None:
    """Paid in full: the ladder stops at once, its queued reminders are cancelled."""
    if recorded.paid_in_full:
        cancel_queued_reminders(
            tenant=recorded.tenant, invoice=recorded.invoice, reason="invoice_paid"
        )


def promises_kept(recorded: PaymentRecorded) -> None:
    """Paid in full: the invoice's open promise was kept."""
    if recorded.paid_in_full:
        promises_keep(invoice=recorded.invoice, now=recorded.now)


def customer_classify(recorded: PaymentRecorded) -> None:
    """Paid in full: the customer's behaviour class (segment) is computed again."""
    if recorded.paid_in_full:
        customers_classify(tenant=recorded.tenant, customer_ids=[recorded.invoice.customer_id])


def ladder_tasks_close(recorded: PaymentRecorded) -> None:
    """Paid in full: the ladder's calls about the invoice have nothing left to ask for."""
    if recorded.paid_in_full:
        ladder_tasks_cancel(invoice=recorded.invoice, now=recorded.now)


def thank_you(recorded: PaymentRecorded) -> None:
    """Paid in full after a reminder went out: the ladder's thank-you e-mail is queued (sent
    after commit) — unless the caller said not to, or the payment is history."""
    if not (recorded.paid_in_full and recorded.thank_you):
        return
    if recorded.now - recorded.payment.paid_at > THANK_YOU_MAX_DELAY:
        return
    if _was_reminded(recorded.invoice):
        _queue_thank_you(tenant=recorded.tenant, invoice=recorded.invoice)


def agreement_progress(recorded: PaymentRecorded) -> None:
    """An instalment paid in full may complete its agreement."""
    if recorded.paid_in_full and recorded.invoice.agreement_id is not None:
        agreement_instalment_paid(tenant=recorded.tenant, invoice=recorded.invoice)


def overpayment(recorded: PaymentRecorded) -> None:
    """More than the invoice's amount: the team gets a task to refund or credit the excess."""
    if recorded.excess > 0:
        overpayment_task_create(
            tenant=recorded.tenant,
            invoice=recorded.invoice,
            payment=recorded.payment,
            excess=recorded.excess,
        )


PAYMENT_FOLLOW_UPS = (
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


def _was_reminded(invoice: Invoice) -> bool:
    return Message.objects.filter(
        invoice_links__invoice=invoice,
        purpose=MessagePurpose.REMINDER,
        status__in=[MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ],
    ).exists()


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
