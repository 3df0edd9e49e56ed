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
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import Least

from collections_app.models import (
    Customer,
    DailyStat,
    FunnelStat,
    Interaction,
    Invoice,
    InvoiceMessage,
    InvoiceStatus,
    Payment,
)
from messaging.models import Message, MessagePurpose
from tenants.models import Tenant

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


# --- The funnel ----------------------------------------------------------------------------------

FUNNEL_FIELDS = ("sent", "delivered", "clicked", "paid", "recovered")
FunnelKey = tuple[int, date, int, str, int]  # tenant, day sent, step, channel, segment


def funnel_add(increments: Iterable[tuple[FunnelKey, str, object]]) -> None:
    """Add to the funnel counters: (key, field, amount) items, summed per key, written with
    one upsert per key that adds to what is there (safe with concurrent writers)."""
    acc: dict[FunnelKey, dict] = defaultdict(lambda: dict.fromkeys(FUNNEL_FIELDS, 0))
    for key, field, amount in increments:
        acc[key][field] += amount
    if not acc:
        return
    table = connection.ops.quote_name(FunnelStat._meta.db_table)
    keys = ("tenant_id", "day", "step_id", "channel", "segment_id")
    columns = ", ".join((*keys, *FUNNEL_FIELDS))
    updates = ", ".join(f"{f} = {table}.{f} + excluded.{f}" for f in FUNNEL_FIELDS)
    day_field = FunnelStat._meta.get_field("day")
    money = FunnelStat._meta.get_field("recovered")
    with connection.cursor() as cursor:
        for (tenant_id, day, step_id, channel, segment_id), values in acc.items():
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * 10)}) "
                f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}",
                [
                    tenant_id,
                    day_field.get_db_prep_save(day, connection),
                    step_id,
                    channel,
                    segment_id,
                    values["sent"],
                    values["delivered"],
                    values["clicked"],
                    values["paid"],
                    money.get_db_prep_save(Decimal(values["recovered"]), connection),
                ],
            )


def funnel_keys(messages) -> dict[int, FunnelKey]:
    """Each sent reminder's funnel key: its tenant, the tenant's date it was sent, its step
    and channel, and its customer's segment (one query for all)."""
    messages = [m for m in messages if m.sent_at is not None]
    if not messages:
        return {}
    zones = _zones({m.tenant_id for m in messages})
    links: dict[int, tuple[int, int]] = {}
    for message_id, step_id, segment_id in (
        InvoiceMessage.objects.filter(message_id__in=[m.pk for m in messages])
        .order_by("-id")
        .values_list("message_id", "dispatch__step_id", "invoice__customer__segment_id")
    ):
        links[message_id] = (step_id or 0, segment_id or 0)
    return {
        m.pk: (
            m.tenant_id,
            m.sent_at.astimezone(zones[m.tenant_id]).date(),
            links.get(m.pk, (0, 0))[0],
            m.channel,
            links.get(m.pk, (0, 0))[1],
        )
        for m in messages
    }


def _zones(tenant_ids) -> dict[int, ZoneInfo]:
    return {
        pk: ZoneInfo(tz)
        for pk, tz in Tenant.objects.filter(pk__in=tenant_ids).values_list("pk", "timezone")
    }


def funnel_rebuild(*, tenant_id: int) -> int:
    """Recompute the tenant's funnel from its reminders, their first clicks and the payments
    attributed to them. Returns how many rows were written."""
    with transaction.atomic():
        reminders = list(
            Message.objects.filter(
                tenant_id=tenant_id, purpose=MessagePurpose.REMINDER, sent_at__isnull=False
            ).only("id", "tenant_id", "channel", "sent_at", "delivered_at")
        )
        keys = funnel_keys(reminders)
        items: list[tuple[FunnelKey, str, object]] = []
        for message in reminders:
            items.append((keys[message.pk], "sent", 1))
            if message.delivered_at is not None:
                items.append((keys[message.pk], "delivered", 1))
        clicked = set(
            Interaction.objects.filter(tenant_id=tenant_id, kind="click", message__isnull=False)
            .values_list("message_id", flat=True)
            .distinct()
        )
        items += [(keys[mid], "clicked", 1) for mid in clicked if mid in keys]
        for message_id, amount in Payment.objects.filter(
            tenant_id=tenant_id, attributed_message__isnull=False
        ).values_list("attributed_message_id", "amount"):
            if message_id in keys:
                items += [(keys[message_id], "paid", 1), (keys[message_id], "recovered", amount)]
        FunnelStat.objects.filter(tenant_id=tenant_id).delete()
        funnel_add(items)
        return FunnelStat.objects.filter(tenant_id=tenant_id).count()


def data_version(*, tenant_id: int) -> str:
    """A cheap fingerprint of the tenant's invoices and customers — the rollups' totals and
    the customers' count and last change — for cache keys of figures computed from them."""
    totals = DailyStat.objects.filter(tenant_id=tenant_id).aggregate(
        n=Sum("due_n"), open_n=Sum("open_n"), open=Sum("open_remaining"), paid=Sum("paid_n")
    )
    customers = Customer.objects.filter(tenant_id=tenant_id).aggregate(
        n=Count("id"), last=Max("updated_at")
    )
    return repr((sorted(totals.items()), sorted(customers.items())))
