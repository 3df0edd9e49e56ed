"""Agreements (acordos): an agreed plan of N monthly instalments that replaces a customer's open
debt.

Each instalment is an invoice of its own, with its own ladder and payment page. The invoices it
replaces are suspended (`in_agreement`): no reminders, not counted as overdue. When every
instalment is paid the agreement is completed and the replaced invoices are settled by it. An
instalment still unpaid `grace_days` after its due date breaks the agreement: the remaining
instalments are cancelled, what was paid is credited to the replaced invoices (oldest first),
those reopen — so the ladder resumes on what remains — and the team gets a task."""

import calendar as month_calendar
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_app.activity.followups import followup_task_create
from collections_app.activity.messages import cancel_queued_reminders
from collections_app.activity.timeline import interaction_log
from collections_app.calendar import BusinessCalendar
from collections_app.models import (
    Agreement,
    AgreementStatus,
    Customer,
    InteractionKind,
    Invoice,
    InvoiceStatus,
    PaymentPromise,
    PaymentSource,
    PromiseStatus,
)
from collections_app.money import format_day, format_money, quantize
from collections_app.payments.charges import invoice_charges
from collections_app.payments.services import invoice_record_payment
from collections_app.stats.rollups import stats_refresh_invoices
from tenants.models import Tenant

MAX_INSTALMENTS = 60


class AgreementError(ValueError):
    """An agreement that cannot be made, with the reason (in the user's language)."""


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or that month's last day (31/01 + 1 → 28/02)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, month_calendar.monthrange(year, month)[1]))


def agreement_plan(*, total: Decimal, count: int, first_due: date) -> list[tuple[date, Decimal]]:
    """(due date, amount) of each instalment: equal monthly parts in cents, the last one
    taking the rounding remainder, so they add up to `total` exactly."""
    part = (Decimal(total) / count).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    amounts = [part] * (count - 1) + [quantize(Decimal(total) - part * (count - 1))]
    return [(add_months(first_due, k), amount) for k, amount in enumerate(amounts)]


def agreement_total(*, tenant: Tenant, invoices: list[Invoice], today: date) -> Decimal:
    """What the replaced debt amounts to today: each invoice's amount due with its charges."""
    return sum(
        (invoice_charges(tenant=tenant, invoice=inv, today=today).total for inv in invoices),
        Decimal("0.00"),
    )


def agreement_create(
    *,
    tenant: Tenant,
    customer: Customer,
    invoices: list[Invoice],
    instalments: int,
    first_due_date: date,
    today: date,
    total: Decimal | None = None,
    source: str = "agent",
    actor=None,
) -> Agreement:
    """Replace the customer's given open invoices by `instalments` monthly instalments, the
    first due on `first_due_date`. `total` defaults to the debt with today's charges. A
    debtor's own agreement (`source="debtor"`) must keep to the tenant's self-service rules
    (at most `instalments_max` instalments of at least `instalment_min_amount`, starting
    within `promise_max_days`). Raises AgreementError."""
    invoices = sorted({inv.pk: inv for inv in invoices}.values(), key=lambda i: i.pk)
    if not invoices:
        raise AgreementError(_("Choose at least one open invoice."))
    if any(inv.customer_id != customer.pk for inv in invoices):
        raise AgreementError(_("All the invoices must be the same customer's."))
    if any(inv.status != InvoiceStatus.OPEN or inv.amount_due <= 0 for inv in invoices):
        raise AgreementError(_("Only open invoices with an amount due can go into an agreement."))
    if not 1 <= instalments <= MAX_INSTALMENTS:
        raise AgreementError(_("The number of instalments must be between 1 and 60."))
    if first_due_date < today:
        raise AgreementError(_("The first instalment cannot be due in the past."))
    total = quantize(
        total
        if total is not None
        else agreement_total(tenant=tenant, invoices=invoices, today=today)
    )
    if total <= 0:
        raise AgreementError(_("The agreement's total must be greater than zero."))
    if source == "debtor":
        _check_self_service(
            tenant=tenant, total=total, count=instalments, first=first_due_date, today=today
        )
    plan = agreement_plan(total=total, count=instalments, first_due=first_due_date)
    calendar = BusinessCalendar.for_tenant(tenant)
    with transaction.atomic():
        locked = list(Invoice.objects.select_for_update().filter(pk__in=[i.pk for i in invoices]))
        if any(inv.status != InvoiceStatus.OPEN for inv in locked):
            raise AgreementError(_("An invoice changed meanwhile; reload and try again."))
        agreement = Agreement.objects.create(
            tenant=tenant,
            customer=customer,
            total_amount=total,
            instalment_count=instalments,
            first_due_date=first_due_date,
            grace_days=tenant.agreement_grace_days,
            source=source,
            created_by=actor,
        )
        agreement.original_invoices.set(locked)
        Invoice.objects.filter(pk__in=[i.pk for i in locked]).update(
            status=InvoiceStatus.IN_AGREEMENT, updated_at=timezone.now()
        )
        PaymentPromise.objects.filter(invoice__in=locked, status=PromiseStatus.OPEN).update(
            status=PromiseStatus.CANCELLED, resolved_at=timezone.now()
        )
        for invoice in locked:
            cancel_queued_reminders(tenant=tenant, invoice=invoice, reason="in_agreement")
        numbers = ", ".join(inv.number or inv.external_id for inv in locked)
        Invoice.objects.bulk_create(
            Invoice(
                tenant=tenant,
                customer=customer,
                external_id=f"ACORDO-{agreement.pk}-{k}",
                number=f"ACORDO-{agreement.pk}-{k}/{instalments}",
                description=_("Instalment %(k)s of %(n)s of the agreement for %(numbers)s")
                % {"k": k, "n": instalments, "numbers": numbers},
                amount=amount,
                issue_date=today,
                due_date=due,
                effective_due_date=calendar.effective_due_date(due),
                agreement=agreement,
            )
            for k, (due, amount) in enumerate(plan, 1)
        )
        stats_refresh_invoices(
            tenant_id=tenant.pk, invoices=[*locked, *agreement.instalments.all()]
        )
        first_amount = plan[0][1]
        interaction_log(
            tenant=tenant,
            customer_id=customer.pk,
            kind=InteractionKind.AGREEMENT,
            actor=actor,
            summary=(
                f"Acordo {agreement.pk}: {instalments}x de "
                f"{format_money(first_amount, 'BRL', tenant.locale)} "
                f"(total {format_money(total, 'BRL', tenant.locale)}, 1º vencimento "
                f"{format_day(first_due_date, tenant.locale)}) substitui {numbers}"
            ),
            data={
                "agreement_id": agreement.pk,
                "source": source,
                "instalments": instalments,
                "total": str(total),
                "replaces": [inv.pk for inv in locked],
            },
        )
    return agreement


def _check_self_service(*, tenant: Tenant, total: Decimal, count: int, first: date, today: date):
    if tenant.instalments_max < 1:
        raise AgreementError(_("Instalments are agreed with our team."))
    if count > tenant.instalments_max:
        raise AgreementError(_("At most %(n)s instalments.") % {"n": tenant.instalments_max})
    if total / count < tenant.instalment_min_amount:
        raise AgreementError(
            _("Each instalment must be at least %(amount)s.")
            % {"amount": format_money(tenant.instalment_min_amount, "BRL", tenant.locale)}
        )
    if first > today + timedelta(days=tenant.promise_max_days):
        raise AgreementError(
            _("The first instalment must be due within %(days)s days.")
            % {"days": tenant.promise_max_days}
        )


def agreement_instalment_paid(*, tenant: Tenant, invoice: Invoice) -> Agreement | None:
    """After an instalment is paid in full: complete its agreement if nothing is left."""
    if invoice.agreement_id is None:
        return None
    agreement = Agreement.objects.select_for_update().get(pk=invoice.agreement_id)
    if agreement.status != AgreementStatus.ACTIVE:
        return None
    if agreement.instalments.exclude(status=InvoiceStatus.PAID).exists():
        return None
    _settle_originals(tenant=tenant, agreement=agreement, credit=None)
    agreement.status = AgreementStatus.COMPLETED
    agreement.ended_at = timezone.now()
    agreement.save(update_fields=["status", "ended_at"])
    _log(tenant, agreement, f"Acordo {agreement.pk} cumprido: todas as parcelas pagas")
    return agreement


def agreements_check(*, tenants: list[Tenant], today: date) -> int:
    """Break the tenants' active agreements with an instalment unpaid `grace_days` after its
    due date. Runs before the day's evaluation, inside the tenants' scope. Returns how many
    were broken."""
    broken = 0
    by_tenant = {t.pk: t for t in tenants}
    late = (
        Invoice.objects.filter(
            tenant_id__in=list(by_tenant),
            agreement__status=AgreementStatus.ACTIVE,
            status=InvoiceStatus.OPEN,
        )
        .select_related("agreement")
        .order_by("agreement_id", "effective_due_date")
    )
    seen: set[int] = set()
    for instalment in late:
        agreement = instalment.agreement
        if agreement.pk in seen:
            continue
        if instalment.effective_due_date + timedelta(days=agreement.grace_days) >= today:
            continue
        seen.add(agreement.pk)
        agreement_break(
            tenant=by_tenant[agreement.tenant_id], agreement=agreement, missed=instalment
        )
        broken += 1
    return broken


def agreement_break(*, tenant: Tenant, agreement: Agreement, missed: Invoice | None = None):
    """Break the agreement (a missed instalment, or an agent's decision): cancel the unpaid
    instalments, credit what was paid to the replaced invoices and reopen them, and give the
    team a task."""
    with transaction.atomic():
        agreement = Agreement.objects.select_for_update().get(pk=agreement.pk)
        if agreement.status != AgreementStatus.ACTIVE:
            return agreement
        instalments = list(agreement.instalments.select_for_update())
        paid = sum((inst.amount_paid for inst in instalments), Decimal("0"))
        for inst in instalments:
            if inst.status == InvoiceStatus.OPEN:
                inst.status = InvoiceStatus.CANCELLED
                inst.save(update_fields=["status", "updated_at"])
                cancel_queued_reminders(tenant=tenant, invoice=inst, reason="invoice_cancelled")
        _settle_originals(tenant=tenant, agreement=agreement, credit=paid)
        stats_refresh_invoices(tenant_id=tenant.pk, invoices=instalments)
        agreement.status = AgreementStatus.BROKEN
        agreement.ended_at = timezone.now()
        agreement.save(update_fields=["status", "ended_at"])
        reason = (
            f"parcela {missed.number} vencida em "
            f"{format_day(missed.effective_due_date, tenant.locale)} não paga"
            if missed is not None
            else "desfeito pela equipe"
        )
        summary = f"Acordo {agreement.pk} quebrado ({reason}): a régua retoma o saldo"
        _log(tenant, agreement, summary)
        followup_task_create(
            tenant=tenant,
            customer_id=agreement.customer_id,
            title=f"Acordo {agreement.pk} quebrado: falar com o cliente",
            origin="agreement",
            notes=summary,
            data={"agreement_id": agreement.pk},
        )
    return agreement


def _settle_originals(*, tenant: Tenant, agreement: Agreement, credit: Decimal | None) -> None:
    """Completed (`credit` None): the replaced invoices are paid by the agreement. Broken:
    `credit` is spread over them oldest first, and they reopen with what remains."""
    originals = list(
        agreement.original_invoices.select_for_update().order_by("effective_due_date", "id")
    )
    Invoice.objects.filter(pk__in=[i.pk for i in originals]).update(status=InvoiceStatus.OPEN)
    stats_refresh_invoices(tenant_id=tenant.pk, invoices=originals)
    remaining = credit
    for invoice in originals:
        invoice.refresh_from_db()
        amount = invoice.amount_due if remaining is None else min(remaining, invoice.amount_due)
        if amount > 0:
            invoice_record_payment(
                tenant=tenant,
                invoice=invoice,
                amount=amount,
                source=PaymentSource.AGREEMENT,
                external_id=f"agreement-{agreement.pk}-{invoice.pk}",
                thank_you=False,
            )
            if remaining is not None:
                remaining -= amount


def _log(tenant: Tenant, agreement: Agreement, summary: str) -> None:
    interaction_log(
        tenant=tenant,
        customer_id=agreement.customer_id,
        kind=InteractionKind.AGREEMENT,
        summary=summary,
        data={"agreement_id": agreement.pk, "status": agreement.status},
    )
