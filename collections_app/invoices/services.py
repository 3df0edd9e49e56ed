"""Writes of customers and invoices: upserts by external id (the API, the import), cancelling an
invoice, revoking its payment link, and following the tenant's calendar. Each service takes the
tenant explicitly, validates, writes and logs the interaction in one transaction, and queues
side effects on commit. Payments are in `payments/services.py`."""

from django.db import transaction
from django.utils import timezone

from collections_app.activity.messages import cancel_queued_reminders
from collections_app.activity.timeline import interaction_log
from collections_app.calendar import BusinessCalendar
from collections_app.invoices.bulk_update import values_update
from collections_app.models import (
    Customer,
    InteractionKind,
    Invoice,
    InvoiceStatus,
    contact_addresses,
    new_payment_token,
)
from collections_app.stats.rollups import (
    invoice_days,
    stats_refresh,
    stats_refresh_customers,
    stats_refresh_invoices,
)
from tenants.models import Tenant

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
