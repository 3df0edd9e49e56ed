"""Writes of the collections domain. Each service takes the tenant explicitly, validates,
writes and logs the interaction in one transaction, and queues side effects on commit."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_app.calendar import BusinessCalendar
from collections_app.invoices.bulk_update import values_update
from collections_app.invoices.segments import customers_classify
from collections_app.models import (
    Customer,
    FollowUpTask,
    Interaction,
    InteractionKind,
    Invoice,
    InvoiceMessage,
    InvoiceStatus,
    Ladder,
    Payment,
    PaymentPromise,
    PaymentSource,
    PromiseStatus,
    TaskStatus,
    WebhookEvent,
    contact_addresses,
)
from collections_app.money import format_money
from collections_app.stats.rollups import (
    funnel_add,
    funnel_keys,
    invoice_days,
    stats_refresh,
    stats_refresh_customers,
    stats_refresh_invoices,
)
from collections_app.webhooks_out.events import invoice_data, webhook_emit, webhook_emit_many
from messaging.models import Message, MessagePurpose, MessageStatus, Template
from messaging.services import message_cancel, messages_enqueue
from tenants.models import Tenant

# DESIGN invariant 10: a payment recorded later than this after it happened is history.
THANK_YOU_MAX_DELAY = timedelta(days=3)

CUSTOMER_FIELDS = (
    "name",
    "document",
    "email",
    "phone",
    "whatsapp",
    "preferred_channels",
    "opted_out_channels",
    "tags",
)
INVOICE_FIELDS = (
    "number",
    "description",
    "amount",
    "currency",
    "issue_date",
    "due_date",
    "boleto_line",
    "bank_reference",
    "external_payment_url",
    "disputed",
    "paused_until",
)


class PaymentError(ValueError):
    """A payment that cannot be recorded, with the reason."""


def interaction_log(
    *,
    tenant: Tenant,
    customer_id: int,
    kind: str,
    summary: str,
    invoice=None,
    message=None,
    channel: str = "",
    data: dict | None = None,
    actor=None,
    occurred_at: datetime | None = None,
) -> Interaction:
    return Interaction.objects.create(
        tenant=tenant,
        customer_id=customer_id,
        invoice=invoice,
        message=message,
        kind=kind,
        channel=channel,
        summary=summary[:300],
        data=data or {},
        actor=actor,
        occurred_at=occurred_at or timezone.now(),
    )


def customers_upsert(*, tenant: Tenant, items: list[dict]) -> list[tuple[Customer, bool]]:
    """Create or update customers by external_id (validated data). Atomic; returns
    (customer, created) in input order. A later item with the same external_id wins."""
    ext_ids = {item["external_id"] for item in items}
    existing = {c.external_id: c for c in Customer.objects.filter(external_id__in=ext_ids)}
    out, to_create, to_update = [], [], {}
    original: dict[int, tuple] = {}
    moved: list[int] = []
    with transaction.atomic():
        for item in items:
            customer = existing.get(item["external_id"])
            created = customer is None
            if created:
                customer = Customer(tenant=tenant, external_id=item["external_id"])
                existing[customer.external_id] = customer
                to_create.append(customer)
            state = _customer_state(customer)
            if customer.pk:
                original.setdefault(customer.pk, state)
            before = _addresses(customer)
            for name in CUSTOMER_FIELDS:
                if name in item:
                    setattr(customer, name, item[name])
            if customer.invalid_channels:
                # A channel refused by a provider is usable again once its address changes.
                after = _addresses(customer)
                customer.invalid_channels = [
                    c for c in customer.invalid_channels if before.get(c) == after.get(c)
                ]
            if "segment" in item:
                segment = item["segment"]
                if customer.pk and customer.segment_id != (segment.pk if segment else None):
                    moved.append(customer.pk)
                customer.segment = segment
                customer.segment_manual = segment is not None
                customer.segment_reason = f"{segment.name}: atribuição manual" if segment else ""
            if not created and customer.pk and _customer_state(customer) != state:
                # Only what changed is written: an import names the same customers again
                # and again.
                to_update[customer.pk] = customer
            out.append((customer, created))
        Customer.objects.bulk_create(to_create)
        _bulk_update_changed(
            Customer, to_update.values(), original, fields=CUSTOMER_STATE, state=_customer_state
        )
        stats_refresh_customers(tenant_id=tenant.pk, customer_ids=moved)
    return out


# What customers_upsert may change, in the order of _customer_state.
CUSTOMER_STATE = (
    *CUSTOMER_FIELDS,
    "invalid_channels",
    "segment",
    "segment_manual",
    "segment_reason",
)


def _customer_state(customer: Customer) -> tuple:
    return (
        *(getattr(customer, name) for name in CUSTOMER_FIELDS),
        tuple(customer.invalid_channels or []),
        customer.segment_id,
        customer.segment_manual,
        customer.segment_reason,
    )


# What invoices_upsert may change (besides updated_at), in the order of _invoice_state.
INVOICE_STATE = (*INVOICE_FIELDS, "customer", "effective_due_date")


def _invoice_state(invoice: Invoice) -> tuple:
    return (
        *(getattr(invoice, name) for name in INVOICE_FIELDS),
        invoice.customer_id,
        invoice.effective_due_date,
    )


def _bulk_update_changed(model, objects, before: dict[int, tuple], *, fields, state) -> None:
    """Write `objects` (each with `before[pk]`, its `state()` as read): the fields that changed
    in any of them, leaving the unchanged objects out (a list sent again changes few)."""
    changed_objects, changed = [], set()
    for obj in objects:
        pairs = zip(fields, before[obj.pk], state(obj), strict=True)
        diff = {name for name, old, new in pairs if old != new}
        if diff:
            changed_objects.append(obj)
            changed |= diff
    if changed_objects:
        values_update(model, changed_objects, [name for name in fields if name in changed])


def _addresses(customer: Customer) -> dict[str, str]:
    return contact_addresses(email=customer.email, phone=customer.phone, whatsapp=customer.whatsapp)


def invoices_upsert(
    *,
    tenant: Tenant,
    items: list[dict],
    refresh_stats: bool = True,
    import_job_id: int | None = None,
) -> list[tuple[Invoice, bool]]:
    """Create or update invoices by external_id from validated data, each with `customer` as a
    Customer, or a dict upserted by its external_id. Atomic: all or nothing. The effective due
    date follows the tenant's calendar. Paid or cancelled invoices keep their status. A caller
    writing many chunks in one transaction (the import) passes `refresh_stats=False` and
    refreshes the dashboard's rollups once, for all the days it touched; a spreadsheet import
    passes its `import_job_id`, kept on every invoice it names."""
    calendar = BusinessCalendar.for_tenant(tenant)
    with transaction.atomic():
        inline = [item["customer"] for item in items if isinstance(item.get("customer"), dict)]
        by_ext = {c.external_id: c for c, _ in customers_upsert(tenant=tenant, items=inline)}
        ext_ids = [item["external_id"] for item in items]
        existing = {i.external_id: i for i in Invoice.objects.filter(external_id__in=ext_ids)}
        days_before = invoice_days(existing.values())
        out, to_create, to_update = [], [], {}
        original: dict[int, tuple] = {}
        now = timezone.now()
        for item in items:
            customer = item.get("customer")
            if isinstance(customer, dict):
                customer = by_ext[customer["external_id"]]
            invoice = existing.get(item["external_id"])
            created = invoice is None
            if created:
                invoice = Invoice(tenant=tenant, external_id=item["external_id"], created_at=now)
                invoice.import_job_id = import_job_id
                existing[invoice.external_id] = invoice
                to_create.append(invoice)
            elif invoice.pk:
                to_update[invoice.pk] = invoice
                original.setdefault(invoice.pk, _invoice_state(invoice))
            if customer is not None:
                invoice.customer = customer
            for name in INVOICE_FIELDS:
                if name in item:
                    setattr(invoice, name, item[name])
            if not invoice.number:
                invoice.number = invoice.external_id
            invoice.effective_due_date = calendar.effective_due_date(invoice.due_date)
            invoice.updated_at = now
            out.append((invoice, created))
        Invoice.objects.bulk_create(to_create)
        _bulk_update_changed(
            Invoice, to_update.values(), original, fields=INVOICE_STATE, state=_invoice_state
        )
        if to_update:
            # Every invoice named is touched, changed or not (what an integrator sent last).
            touched = {"updated_at": now}
            if import_job_id is not None:
                touched["import_job_id"] = import_job_id
            Invoice.objects.filter(pk__in=list(to_update)).update(**touched)
        if refresh_stats:
            stats_refresh_invoices(
                tenant_id=tenant.pk, invoices=[inv for inv, _ in out], before=days_before
            )
    return out


def invoices_due_dates_refresh(*, tenant: Tenant) -> int:
    """After the tenant's calendar changed (a date added or removed, another state, a new rule
    of the bank calendar), move the open invoices' effective due dates to where the calendar
    now puts them, and recompute the dashboard's rollups of the days they left and reached.
    Paid and cancelled invoices keep theirs: their lateness is history. Set-based (one UPDATE
    per due date that moves); idempotent. Returns how many invoices moved."""
    calendar = BusinessCalendar.for_tenant(tenant)
    open_invoices = Invoice.objects.filter(status=InvoiceStatus.OPEN)
    moved, days = 0, set()
    with transaction.atomic():
        pairs = open_invoices.values_list("due_date", "effective_due_date").distinct()
        for due, current in pairs:
            effective = calendar.effective_due_date(due)
            if effective != current:
                moved += open_invoices.filter(due_date=due, effective_due_date=current).update(
                    effective_due_date=effective, updated_at=timezone.now()
                )
                days |= {current, effective}
        if days:
            stats_refresh(tenant_id=tenant.pk, days=days)
    return moved


def invoice_cancel(*, tenant: Tenant, invoice: Invoice, actor=None) -> Invoice:
    with transaction.atomic():
        if invoice.status == InvoiceStatus.OPEN:
            invoice.status = InvoiceStatus.CANCELLED
            invoice.save(update_fields=["status", "updated_at"])
            cancel_queued_reminders(tenant=tenant, invoice=invoice, reason="invoice_cancelled")
            stats_refresh_invoices(tenant_id=tenant.pk, invoices=[invoice])
    return invoice


def invoice_link_revoke(*, tenant: Tenant, invoice: Invoice, reissue: bool = True) -> Invoice:
    """The old payment link stops working; with `reissue` a new one replaces it (messages
    sent from now on carry it), else the invoice has no link until reissued."""
    from collections_app.models import new_payment_token

    invoice.payment_token = new_payment_token()
    invoice.token_revoked = not reissue
    invoice.save(update_fields=["payment_token", "token_revoked", "updated_at"])
    interaction_log(
        tenant=tenant,
        customer_id=invoice.customer_id,
        invoice=invoice,
        kind=InteractionKind.NOTE,
        summary="Link de pagamento revogado" + (" e reemitido" if reissue else ""),
        data={"reissued": reissue},
    )
    return invoice


def cancel_queued_reminders(*, tenant: Tenant, invoice: Invoice, reason: str) -> int:
    queued = Message.objects.filter(
        invoice_links__invoice=invoice,
        status=MessageStatus.QUEUED,
        purpose=MessagePurpose.REMINDER,
    )
    return sum(message_cancel(tenant=tenant, message=m, reason=reason) for m in queued)


PAID_FIELDS = ["status", "paid_at", "paid_on", "days_to_pay", "days_late"]


def invoice_paid_in_full(*, tenant: Tenant, invoice: Invoice, paid_at: datetime) -> list[str]:
    """Mark the invoice (in memory) paid in full at `paid_at`: its status, and the local date
    and figures the metrics average. Returns the fields set, for the caller to save."""
    paid_on = paid_at.astimezone(ZoneInfo(tenant.timezone)).date()
    invoice.status = InvoiceStatus.PAID
    invoice.paid_at = paid_at
    invoice.paid_on = paid_on
    invoice.days_to_pay = (paid_on - invoice.issue_date).days
    invoice.days_late = max(0, (paid_on - invoice.effective_due_date).days)
    return list(PAID_FIELDS)


def invoice_record_payment(
    *,
    tenant: Tenant,
    invoice: Invoice,
    amount: Decimal,
    paid_at: datetime | None = None,
    external_id: str | None = None,
    source: str = PaymentSource.API,
    actor=None,
    thank_you: bool = True,
) -> tuple[Payment, bool]:
    """Record a payment against an invoice. Idempotent on `external_id`: a repeat returns the
    first payment and changes nothing. Paid in full → the ladder stops at once (queued
    reminders are cancelled) and, unless the payment is history (invariant 10), the thank-you
    is queued after commit (`thank_you=False`: never). The payment is attributed to the last
    message or click before it (`payment_attribute`). More than the invoice's amount leaves
    the excess on record and gives the team a task to refund or credit it. An instalment paid
    in full may complete its agreement. Raises PaymentError for a non-positive amount, a
    future date, or a cancelled invoice."""
    now = timezone.now()
    paid_at = paid_at or now
    if amount is None or amount <= 0:
        raise PaymentError(_("The amount must be greater than zero."))
    if paid_at > now + timedelta(minutes=5):
        raise PaymentError(_("The payment date cannot be in the future."))
    with transaction.atomic():
        if external_id:
            earlier = Payment.objects.filter(external_id=external_id).first()
            if earlier is not None:
                return earlier, False
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.status in (InvoiceStatus.CANCELLED, InvoiceStatus.WRITTEN_OFF):
            raise PaymentError(
                _("Invoice %(number)s is %(status)s: it takes no payment.")
                % {"number": invoice.number, "status": invoice.get_status_display().lower()}
            )
        payment = Payment.objects.create(
            tenant=tenant,
            invoice=invoice,
            external_id=external_id or None,
            amount=amount,
            paid_at=paid_at,
            source=source,
            recorded_by=actor,
        )
        if source != PaymentSource.AGREEMENT:
            payment_attribute(payment=payment, invoice=invoice)
        excess_before = max(invoice.amount_paid - invoice.amount, 0)
        invoice.amount_paid += amount
        fields = ["amount_paid", "updated_at"]
        became_paid = invoice.status == InvoiceStatus.OPEN and invoice.amount_paid >= invoice.amount
        if became_paid:
            fields += invoice_paid_in_full(tenant=tenant, invoice=invoice, paid_at=paid_at)
        invoice.save(update_fields=fields)
        stats_refresh_invoices(tenant_id=tenant.pk, invoices=[invoice])
        if source != PaymentSource.AGREEMENT:
            webhook_emit(
                tenant_id=tenant.pk,
                event=WebhookEvent.PAYMENT_RECEIVED,
                dedupe_key=f"payment:{payment.pk}",
                data={
                    "payment_id": payment.pk,
                    "external_id": payment.external_id,
                    "amount": str(amount),
                    "paid_at": paid_at.isoformat(),
                    "source": source,
                    "invoice": invoice_data(invoice),
                },
            )
        interaction_log(
            tenant=tenant,
            customer_id=invoice.customer_id,
            invoice=invoice,
            kind=InteractionKind.PAYMENT,
            actor=actor,
            occurred_at=paid_at,
            summary=f"{format_money(amount, invoice.currency, tenant.locale)} ({source})",
            data={"payment_id": payment.pk, "amount": str(amount), "source": source},
        )
        if became_paid:
            cancel_queued_reminders(tenant=tenant, invoice=invoice, reason="invoice_paid")
            PaymentPromise.objects.filter(invoice=invoice, status=PromiseStatus.OPEN).update(
                status=PromiseStatus.KEPT, resolved_at=now
            )
            customers_classify(tenant=tenant, customer_ids=[invoice.customer_id])
            # The ladder's calls about this invoice have nothing left to ask for.
            FollowUpTask.objects.filter(
                invoice=invoice, status=TaskStatus.OPEN, origin__in=["step", "escalation"]
            ).update(status=TaskStatus.CANCELLED, completed_at=now)
            if thank_you and now - paid_at <= THANK_YOU_MAX_DELAY and _was_reminded(invoice):
                _queue_thank_you(tenant=tenant, invoice=invoice)
            if invoice.agreement_id is not None:
                from collections_app.payments.agreements import agreement_instalment_paid

                agreement_instalment_paid(tenant=tenant, invoice=invoice)
        excess = invoice.amount_paid - invoice.amount - excess_before
        if excess > 0:
            _overpayment_task(tenant=tenant, invoice=invoice, payment=payment, excess=excess)
    return payment, True


def _overpayment_task(*, tenant: Tenant, invoice: Invoice, payment: Payment, excess) -> None:
    followup_task_create(
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


def followup_task_create(
    *,
    tenant: Tenant,
    customer_id: int,
    title: str,
    origin: str,
    invoice: Invoice | None = None,
    notes: str = "",
    data: dict | None = None,
) -> FollowUpTask:
    """A task for the team, due today, given to the next agent (`task_assigners`), with its
    entry in the timeline."""
    from collections_app.activity.assignment import task_assigners

    task = FollowUpTask.objects.create(
        tenant=tenant,
        customer_id=customer_id,
        invoice=invoice,
        title=title[:200],
        origin=origin,
        notes=notes[:2000],
        due_on=timezone.localdate(),
        assignee_id=task_assigners(tenants=[tenant])[tenant.pk].next(),
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


ATTRIBUTION_WINDOW = timedelta(days=7)


def payment_attribute(*, payment: Payment, invoice: Invoice) -> None:
    """Attribute the payment to the last message sent about the invoice, or the last click on
    one, within 7 days before it (whichever came last), with that message's step and channel
    and the customer's segment. Sets the fields on `payment` and saves them."""
    since = payment.paid_at - ATTRIBUTION_WINDOW
    sent = (
        Message.objects.filter(
            invoice_links__invoice=invoice,
            purpose=MessagePurpose.REMINDER,
            sent_at__gte=since,
            sent_at__lte=payment.paid_at,
        )
        .order_by("-sent_at", "-id")
        .values_list("id", "sent_at")
        .first()
    )
    click = (
        Interaction.objects.filter(
            invoice=invoice,
            kind=InteractionKind.CLICK,
            message__isnull=False,
            occurred_at__gte=since,
            occurred_at__lte=payment.paid_at,
        )
        .order_by("-occurred_at", "-id")
        .values_list("message_id", "occurred_at")
        .first()
    )
    candidates = [
        (at, via, mid)
        for via, row in (("message", sent), ("click", click))
        if row
        for mid, at in [row]
    ]
    if not candidates:
        return
    _at, via, message_id = max(candidates)
    link = (
        InvoiceMessage.objects.filter(message_id=message_id, invoice=invoice)
        .select_related("dispatch", "message")
        .first()
    )
    payment.attributed_message_id = message_id
    payment.attributed_via = via
    payment.attributed_channel = link.message.channel if link else ""
    payment.attributed_step_id = link.dispatch.step_id if link and link.dispatch else None
    payment.attributed_segment_id = (
        Customer.objects.filter(pk=invoice.customer_id).values_list("segment_id", flat=True).first()
    )
    payment.save(
        update_fields=[
            "attributed_message",
            "attributed_via",
            "attributed_channel",
            "attributed_step",
            "attributed_segment",
        ]
    )
    message = Message.objects.filter(pk=message_id).first()
    keys = funnel_keys([message]) if message is not None else {}
    if message_id in keys:
        funnel_add([(keys[message_id], "paid", 1), (keys[message_id], "recovered", payment.amount)])


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


def invoice_message_queue(
    *,
    tenant: Tenant,
    invoice: Invoice,
    recipient: str,
    template: Template,
    purpose: str,
    summary: str,
    actor=None,
    data: dict | None = None,
) -> Message:
    """Queue a message about the invoice from a template (rendered when it leaves), with its
    timeline entry; the send is queued once the transaction commits."""
    message = Message.objects.create(
        tenant=tenant,
        channel=template.channel,
        recipient=recipient,
        template=template,
        purpose=purpose,
        subject=template.subject,
    )
    InvoiceMessage.objects.create(tenant=tenant, invoice=invoice, message=message)
    interaction_log(
        tenant=tenant,
        customer_id=invoice.customer_id,
        invoice=invoice,
        message=message,
        kind=InteractionKind.MESSAGE,
        channel=template.channel,
        actor=actor,
        summary=summary,
        data=data,
    )
    messages_enqueue(tenant=tenant, message_ids=[message.pk])
    return message


def payments_record(*, tenant: Tenant, items: list[dict]) -> list[tuple[Payment, bool]]:
    """Record several payments atomically (validated items with `invoice` an Invoice)."""
    with transaction.atomic():
        return [
            invoice_record_payment(
                tenant=tenant,
                invoice=item["invoice"],
                amount=item["amount"],
                paid_at=item.get("paid_at"),
                external_id=item.get("external_id"),
                source=item.get("source", PaymentSource.API),
            )
            for item in items
        ]


DELIVERED = {MessageStatus.DELIVERED, MessageStatus.READ}
FAILED = {MessageStatus.FAILED, MessageStatus.UNDELIVERED}


def _messages_emit(changes: list[tuple[Message, str, str]]) -> None:
    """`message.delivered` on a message's first delivery (or read), `message.failed` when it
    fails for good."""
    by_event: dict[tuple[int, str], list] = {}
    for message, old, new in changes:
        if new in DELIVERED and old not in DELIVERED:
            event = WebhookEvent.MESSAGE_DELIVERED
        elif new in FAILED:
            event = WebhookEvent.MESSAGE_FAILED
        else:
            continue
        by_event.setdefault((message.tenant_id, event), []).append(
            (
                f"message:{message.pk}",
                {
                    "message_id": message.pk,
                    "ref": message.ref,
                    "channel": message.channel,
                    "recipient": message.recipient,
                    "purpose": message.purpose,
                    "status": new,
                    "error": message.error,
                },
            )
        )
    for (tenant_id, event), items in by_event.items():
        webhook_emit_many(tenant_id=tenant_id, event=event, items=items)


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


def _funnel_count(changes: list[tuple[Message, str, str]]) -> None:
    """A reminder reaching `sent` counts as sent; its first delivery (or read) as delivered.
    Each transition happens once (they are conditional), so each counts once."""
    counted = []
    for message, old, new in changes:
        if message.purpose != MessagePurpose.REMINDER:
            continue
        if new == MessageStatus.SENT and old == MessageStatus.SENDING:
            counted.append((message, "sent"))
        elif new in DELIVERED and old == MessageStatus.SENT:
            counted.append((message, "delivered"))
    if counted:
        keys = funnel_keys([m for m, _field in counted])
        funnel_add((keys[m.pk], field, 1) for m, field in counted if m.pk in keys)


def contact_refused_record(*, message: Message, reason: str, opt_out: bool) -> int:
    """A provider refused the message's recipient for good. Each customer the message was
    about whose current address on the channel is still that recipient gets the channel
    flagged — opted out when the recipient opted out at the provider (STOP), else invalid —
    and an entry in its timeline. Returns how many customers were flagged."""
    links = (
        InvoiceMessage.objects.with_scope(tenant=message.tenant_id)
        .filter(message_id=message.pk)
        .select_related("invoice__customer")
    )
    flagged, seen = 0, set()
    for link in links:
        customer = link.invoice.customer
        if customer.pk in seen:
            continue
        seen.add(customer.pk)
        if customer.address_for(message.channel) != message.recipient:
            continue  # the address changed meanwhile, or is flagged already
        field = "opted_out_channels" if opt_out else "invalid_channels"
        setattr(customer, field, [*(getattr(customer, field) or []), message.channel])
        customer.save(update_fields=[field, "updated_at"])
        Interaction.objects.create(
            tenant_id=message.tenant_id,
            customer_id=customer.pk,
            invoice_id=link.invoice_id,
            message_id=message.pk,
            kind=InteractionKind.OPT_OUT if opt_out else InteractionKind.CONTACT_INVALID,
            channel=message.channel,
            summary=(
                f"{message.channel}: {message.recipient} "
                + ("pediu para não receber mais" if opt_out else "recusado pelo provedor")
                + (f" ({reason})" if reason else "")
            )[:300],
            data={"recipient": message.recipient, "reason": reason},
        )
        flagged += 1
    return flagged


def messages_status_log(*, changes: list[tuple[Message, str, str]]) -> None:
    """Write messages' status changes into the timeline of the invoice(s) they are about,
    and move the funnel's counters (a reminder sent, first delivered): one read of their
    invoices and one insert for a whole batch."""
    changes = [c for c in changes if c[2] not in (MessageStatus.SENDING, MessageStatus.QUEUED)]
    if not changes:
        return
    _funnel_count(changes)
    _messages_emit(changes)
    links: dict[int, tuple[int, int]] = {}
    for message_id, invoice_id, customer_id in (
        InvoiceMessage.objects.with_scope(tenant=list({m.tenant_id for m, _old, _new in changes}))
        .filter(message_id__in={message.pk for message, _old, _new in changes})
        .order_by("-id")
        .values_list("message_id", "invoice_id", "invoice__customer_id")
    ):
        links[message_id] = (invoice_id, customer_id)  # the first link wins
    Interaction.objects.bulk_create(
        Interaction(
            tenant_id=message.tenant_id,
            customer_id=links[message.pk][1],
            invoice_id=links[message.pk][0],
            message_id=message.pk,
            kind=InteractionKind.MESSAGE_STATUS,
            channel=message.channel,
            summary=f"{message.channel}: {old_status} → {new_status}"
            + (f" ({message.error})" if message.error and new_status != MessageStatus.SENT else ""),
            data={"from": old_status, "to": new_status},
        )
        for message, old_status, new_status in changes
        if message.pk in links
    )
