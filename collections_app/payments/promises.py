"""Promises to pay: the debtor's word pauses the ladder until the promised date."""

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_app.activity.messages import reminders_recheck
from collections_app.activity.timeline import interaction_log
from collections_app.models import (
    Interaction,
    InteractionKind,
    Invoice,
    InvoiceStatus,
    PaymentPromise,
    PromiseStatus,
    WebhookEvent,
)
from collections_app.money import format_day
from collections_app.webhooks_out.events import invoice_data, webhook_emit
from tenants.models import Tenant


class PromiseError(ValueError):
    """A promise that cannot be accepted, with the reason."""


def promises_keep(*, invoices: Iterable[Invoice], now: datetime) -> int:
    """The invoices were paid in full: their open promises were kept (one update for all).
    Returns how many."""
    ids = [invoice.pk for invoice in invoices]
    if not ids:
        return 0
    return PaymentPromise.objects.filter(invoice_id__in=ids, status=PromiseStatus.OPEN).update(
        status=PromiseStatus.KEPT, resolved_at=now
    )


def promise_create(
    *,
    tenant: Tenant,
    invoice: Invoice,
    promised_date: date,
    today: date,
    amount=None,
    source: str = "agent",
    actor=None,
) -> PaymentPromise:
    """Record a promise to pay by `promised_date` (after today, within the tenant's limit).
    An earlier open promise on the invoice is replaced. Queued reminders of steps with
    `skip_while_promise` are cancelled, and those steps are skipped until the date.
    Raises PromiseError."""
    if invoice.status != InvoiceStatus.OPEN:
        raise PromiseError(_("The invoice is not open."))
    if promised_date <= today:
        raise PromiseError(_("The promised date must be after today."))
    limit = today + timedelta(days=tenant.promise_max_days)
    if promised_date > limit:
        raise PromiseError(
            _("The promised date can be at most %(days)s days away (until %(date)s).")
            % {"days": tenant.promise_max_days, "date": format_day(limit, tenant.locale)}
        )
    with transaction.atomic():
        PaymentPromise.objects.filter(invoice=invoice, status=PromiseStatus.OPEN).update(
            status=PromiseStatus.CANCELLED, resolved_at=timezone.now()
        )
        promise = PaymentPromise.objects.create(
            tenant=tenant,
            invoice=invoice,
            promised_date=promised_date,
            amount=amount,
            source=source,
            created_by=actor,
        )
        interaction_log(
            tenant=tenant,
            customer_id=invoice.customer_id,
            invoice=invoice,
            kind=InteractionKind.PROMISE,
            actor=actor,
            summary=f"Promessa de pagamento para {format_day(promised_date, tenant.locale)}",
            data={"promise_id": promise.pk, "date": promised_date.isoformat(), "source": source},
        )
        # The same rule as at send time: a reminder of a step that goes on during a promise
        # (`skip_while_promise` off) stays queued.
        reminders_recheck(tenant=tenant, invoice=invoice)
        webhook_emit(
            tenant_id=tenant.pk,
            event=WebhookEvent.PROMISE_CREATED,
            dedupe_key=f"promise:{promise.pk}",
            data={
                "promise_id": promise.pk,
                "promised_date": promised_date.isoformat(),
                "source": source,
                "invoice": invoice_data(invoice),
            },
        )
    return promise


def promises_resolve(*, tenant: Tenant | None, today: date) -> int:
    """Close the open promises whose date has passed: kept if the invoice is paid, else
    broken (the ladder resumes). `tenant=None` works on every tenant of the active scope.
    Returns how many were resolved."""
    due = list(
        PaymentPromise.objects.filter(
            status=PromiseStatus.OPEN, promised_date__lt=today
        ).select_related("invoice")
    )
    now, log = timezone.now(), []
    for promise in due:
        kept = promise.invoice.status == InvoiceStatus.PAID
        promise.status = PromiseStatus.KEPT if kept else PromiseStatus.BROKEN
        promise.resolved_at = now
        log.append(
            Interaction(
                tenant_id=promise.tenant_id,
                customer_id=promise.invoice.customer_id,
                invoice=promise.invoice,
                kind=InteractionKind.PROMISE,
                occurred_at=now,
                summary="Promessa cumprida" if kept else "Promessa não cumprida: a régua retoma",
                data={"promise_id": promise.pk, "status": promise.status},
            )
        )
    PaymentPromise.objects.bulk_update(due, ["status", "resolved_at"])
    Interaction.objects.bulk_create(log)
    return len(due)
