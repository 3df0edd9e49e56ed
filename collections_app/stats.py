"""The dashboard's rollups (`DailyStat`): recomputed for the days a write touches.

Every write that changes what the metrics count — an invoice created or changed, a payment, a
cancellation, an agreement, a customer moving to another segment — calls `stats_refresh` with
the invoices it touched (before and after the change) inside its transaction. The days those
invoices are due, paid and issued are recomputed from the invoices themselves, under a
per-tenant lock, so two writers cannot leave a stale sum behind: the second waits for the
first to commit, then reads its rows. A day costs one indexed aggregate over that day's
invoices."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Least

from .models import DailyStat, Invoice, InvoiceStatus

LOCK_NAMESPACE = 7_310_001  # pg_advisory_xact_lock(namespace, tenant id)
DUE_FIELDS = (
    "due_n",
    "due_amount",
    "on_time_n",
    "on_time_amount",
    "late_n",
    "late_amount",
    "late_recovered",
    "late_paid_n",
    "open_n",
    "open_remaining",
)


def invoice_days(invoices: Iterable[Invoice]) -> set[date]:
    """The days an invoice counts on: due, paid and issued."""
    days: set[date] = set()
    for invoice in invoices:
        days.update(
            d for d in (invoice.effective_due_date, invoice.paid_on, invoice.issue_date) if d
        )
    return days


def stats_refresh(*, tenant_id: int, days: Iterable[date] | None = None) -> int:
    """Recompute the tenant's rows for `days` (None: every day). Must run in the tenant's
    scope. Returns how many rows were written."""
    return stats_refresh_many(days_by_tenant={tenant_id: None if days is None else set(days)})


def stats_refresh_many(*, days_by_tenant: dict[int, set[date] | None]) -> int:
    """`stats_refresh` for several tenants with a fixed number of queries (the daily
    evaluation's batch): the union of their days is recomputed for all of them, which is
    exact for each — a day recomputed needlessly comes out the same."""
    wanted = {t: d for t, d in days_by_tenant.items() if d is None or d}
    if not wanted:
        return 0
    tenant_ids = sorted(wanted)
    everything = any(d is None for d in wanted.values())
    days = None if everything else sorted(set().union(*wanted.values()))
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # In tenant order, so two batches cannot wait on each other.
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(%s, t) FROM unnest(%s::int[]) AS t ORDER BY t",
                    [LOCK_NAMESPACE, tenant_ids],
                )
        rows = _compute(tenant_ids, days)
        stale = DailyStat.objects.filter(tenant_id__in=tenant_ids)
        if days is not None:
            stale = stale.filter(day__in=days)
        stale.delete()
        DailyStat.objects.bulk_create(rows, batch_size=2000)
        return len(rows)


def _compute(tenant_ids: list[int], days: list[date] | None) -> list[DailyStat]:
    live = Invoice.objects.filter(tenant_id__in=tenant_ids).exclude(
        status__in=[InvoiceStatus.CANCELLED, InvoiceStatus.WRITTEN_OFF]
    )
    on_time = Q(status=InvoiceStatus.PAID, paid_on__lte=F("effective_due_date"))
    late = ~on_time
    is_open = Q(status=InvoiceStatus.OPEN)
    acc: dict[tuple[int, int, date], dict] = defaultdict(dict)

    due = live if days is None else live.filter(effective_due_date__in=days)
    for r in due.values("tenant_id", "customer__segment_id", "effective_due_date").annotate(
        due_n=Count("id"),
        due_amount=Sum("amount"),
        on_time_n=Count("id", filter=on_time),
        on_time_amount=Sum("amount", filter=on_time),
        late_n=Count("id", filter=late),
        late_amount=Sum("amount", filter=late),
        late_recovered=Sum(Least(F("amount_paid"), F("amount")), filter=late),
        late_paid_n=Count("id", filter=late & Q(status=InvoiceStatus.PAID)),
        open_n=Count("id", filter=is_open),
        open_remaining=Sum(F("amount") - F("amount_paid"), filter=is_open),
    ):
        key = (r["tenant_id"], r["customer__segment_id"] or 0, r["effective_due_date"])
        acc[key].update({name: r[name] or 0 for name in DUE_FIELDS})

    paid = live.filter(status=InvoiceStatus.PAID)
    paid = paid if days is None else paid.filter(paid_on__in=days)
    for r in paid.values("tenant_id", "customer__segment_id", "paid_on").annotate(
        n=Count("id"), to_pay=Sum("days_to_pay"), late_days=Sum("days_late")
    ):
        if r["paid_on"] is None:
            continue
        acc[(r["tenant_id"], r["customer__segment_id"] or 0, r["paid_on"])].update(
            paid_n=r["n"], paid_days_to_pay=r["to_pay"] or 0, paid_days_late=r["late_days"] or 0
        )

    issued = live if days is None else live.filter(issue_date__in=days)
    for r in issued.values("tenant_id", "customer__segment_id", "issue_date").annotate(
        total=Sum("amount")
    ):
        key = (r["tenant_id"], r["customer__segment_id"] or 0, r["issue_date"])
        acc[key]["issued_amount"] = r["total"] or 0

    return [
        DailyStat(tenant_id=tenant_id, segment_id=segment_id, day=day, **values)
        for (tenant_id, segment_id, day), values in acc.items()
    ]


def stats_refresh_invoices(*, tenant_id: int, invoices: Iterable[Invoice], before=()) -> int:
    """Refresh the days of these invoices, and of `before` (their days before the change)."""
    days = invoice_days(invoices) | set(before)
    return stats_refresh(tenant_id=tenant_id, days=days)


FULL_REFRESH_CUSTOMERS = 2000


def stats_refresh_customers(*, tenant_id: int, customer_ids: Iterable[int]) -> int:
    """After customers moved to another segment: refresh the days of their invoices."""
    return stats_refresh_customers_many(customers_by_tenant={tenant_id: list(customer_ids)})


def stats_refresh_customers_many(*, customers_by_tenant: dict[int, list[int]]) -> int:
    """`stats_refresh_customers` for several tenants in a fixed number of queries. A tenant
    where many customers moved at once gets all its days recomputed, which is cheaper than
    listing theirs."""
    days_by_tenant: dict[int, set[date] | None] = {}
    listed = []
    for tenant_id, ids in customers_by_tenant.items():
        if len(set(ids)) > FULL_REFRESH_CUSTOMERS:
            days_by_tenant[tenant_id] = None
        elif ids:
            days_by_tenant[tenant_id] = set()
            listed.extend(ids)
    if listed:
        for tenant_id, *row in Invoice.objects.filter(customer_id__in=listed).values_list(
            "tenant_id", "effective_due_date", "paid_on", "issue_date"
        ):
            days_by_tenant[tenant_id].update(d for d in row if d)
    return stats_refresh_many(days_by_tenant=days_by_tenant)
