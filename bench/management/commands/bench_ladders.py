"""Benchmark of the daily evaluation on a synthetic portfolio.

Shape (fixed): N tenants, each with the default ladder and 100 customers; M/N invoices per
tenant spread evenly over its customers; due dates uniform over D±60 days; 80 % open. The
portfolio is written with COPY on PostgreSQL (executemany elsewhere). Then one day's evaluation
runs for all the bench's tenants through the production code path, and the same selection and
insert is done by one raw SQL statement on the same data, as the lower bound."""

import cProfile
import json
import resource
import secrets
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date
from django_scopes import scopes_disabled

from collections_app.calendar import BusinessCalendar
from collections_app.engine.defaults import DEFAULT_STEPS, defaults_install_many
from collections_app.engine.evaluate import ladders_run, one_writer_note, parallel_workers
from collections_app.engine.window import due_dates as _due_dates
from config.celery import app as celery_app
from tenants.models import Tenant

CUSTOMERS_PER_TENANT = 100
SPREAD_DAYS = 60

CUSTOMER_COLUMNS = (
    "tenant_id",
    "external_id",
    "name",
    "document",
    "email",
    "phone",
    "whatsapp",
    "preferred_channels",
    "opted_out_channels",
    "invalid_channels",
    "tags",
    "segment_manual",
    "segment_reason",
    "behaviour",
    "created_at",
    "updated_at",
)
INVOICE_COLUMNS = (
    "tenant_id",
    "customer_id",
    "external_id",
    "number",
    "description",
    "amount",
    "amount_paid",
    "currency",
    "issue_date",
    "due_date",
    "effective_due_date",
    "status",
    "paid_at",
    "paid_on",
    "days_to_pay",
    "days_late",
    "payment_token",
    "pix_txid",
    "bank_reference",
    "token_revoked",
    "boleto_line",
    "external_payment_url",
    "disputed",
    "dispute_reason",
    "created_at",
    "updated_at",
)


def _rss_mb(field: str) -> float | None:
    """A memory figure of this process from /proc (Linux), in MB: VmRSS now, VmHWM peak."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Start the peak RSS over from the current RSS (Linux: "5" to clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def _insert(table: str, columns: tuple[str, ...], rows) -> None:
    """Stream rows into a table: COPY on PostgreSQL, executemany in batches elsewhere."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            with cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        return
    placeholders = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
    batch = []
    with connection.cursor() as cursor:
        for row in rows:
            batch.append(row)
            if len(batch) >= 5000:
                cursor.executemany(sql, batch)
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)


class Command(BaseCommand):
    help = "Build a synthetic portfolio and time one day's ladder evaluation against an SQL bound."

    def add_arguments(self, parser):
        parser.add_argument("--tenants", type=int, default=10)
        parser.add_argument("--invoices", type=int, default=10_000, help="in total")
        parser.add_argument("--date", help="the evaluation day D (default: today)")
        parser.add_argument("--json", action="store_true")
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="batches of tenants evaluated at once, as that many Celery workers would "
            "(PostgreSQL only; default 1)",
        )
        parser.add_argument(
            "--profile", metavar="FILE", help="write cProfile statistics of the evaluation here"
        )

    def handle(self, *args, **opts):
        n_tenants, n_invoices = opts["tenants"], opts["invoices"]
        if n_tenants < 1 or n_invoices < n_tenants:
            raise CommandError("Need at least one tenant and one invoice per tenant")
        day = parse_date(opts["date"]) if opts["date"] else timezone.localdate()
        if day is None:
            raise CommandError("--date must be YYYY-MM-DD")
        prefix = f"bench-{secrets.token_hex(3)}"
        log = (lambda msg: None) if opts["json"] else (lambda msg: self.stdout.write(msg))

        started = time.perf_counter()
        with scopes_disabled():
            tenant_ids = self._build(prefix, n_tenants, n_invoices, day)
        build_seconds = time.perf_counter() - started
        log(f"built {n_invoices} invoices in {n_tenants} tenants in {build_seconds:.1f} s")

        bound_seconds, bound_rows = self._sql_bound(tenant_ids, day)
        log(f"SQL bound: {bound_rows} rows in {bound_seconds:.3f} s")

        tenants = list(Tenant.objects.filter(pk__in=tenant_ids).order_by("pk"))
        if parallel_workers(opts["workers"]) < opts["workers"]:
            self.stderr.write(one_writer_note(opts["workers"]))
        eager = celery_app.conf.task_always_eager
        # Measure the production path: sends are published to the broker, not run inline.
        celery_app.conf.task_always_eager = False
        rss_before = _rss_mb("VmRSS")
        peak_reset = _reset_peak_rss()
        profiler = cProfile.Profile() if opts["profile"] else None
        try:
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            results = ladders_run(today_for=lambda t: day, tenants=tenants, workers=opts["workers"])
            seconds = time.perf_counter() - started
        finally:
            if profiler:
                profiler.disable()
                profiler.dump_stats(opts["profile"])
            celery_app.conf.task_always_eager = eager
        created = sum(r.created for r in results)
        summary = {
            "tenants": n_tenants,
            "invoices": n_invoices,
            "open": self._open_count(tenant_ids),
            "date": day.isoformat(),
            "created": created,
            "messages": sum(r.messages for r in results),
            "tasks": sum(r.tasks for r in results),
            "seconds": round(seconds, 4),
            "sql_bound_rows": bound_rows,
            "sql_bound_seconds": round(bound_seconds, 4),
            "ratio": round(seconds / bound_seconds, 2) if bound_seconds else None,
            "build_seconds": round(build_seconds, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            # The evaluation's own peak (the build's is forgotten first), where Linux allows.
            "rss_before_eval_mb": rss_before,
            "eval_peak_rss_mb": _rss_mb("VmHWM") if peak_reset else None,
            "workers": parallel_workers(opts["workers"]),
            "database": connection.vendor,
            "tenant_prefix": prefix,
        }
        log(
            f"evaluation: {created} dispatches, {summary['messages']} messages in "
            f"{seconds:.3f} s — {summary['ratio']}× the SQL bound"
        )
        self.stdout.write(json.dumps(summary))

    # --- portfolio --------------------------------------------------------------------------

    def _build(self, prefix: str, n_tenants: int, n_invoices: int, day: date) -> list[int]:
        now = timezone.now()
        with transaction.atomic():
            tenants = Tenant.objects.bulk_create(
                Tenant(
                    slug=f"{prefix}-{i}",
                    name=f"Bench {prefix} {i}",
                    send_window_start=dtime(0, 0),
                    send_window_end=dtime(23, 59),
                    send_days="mon,tue,wed,thu,fri,sat,sun",
                    created_at=now,
                )
                for i in range(n_tenants)
            )
            if connection.vendor != "postgresql" or tenants[0].pk is None:
                tenants = list(Tenant.objects.filter(slug__startswith=f"{prefix}-").order_by("pk"))
            defaults_install_many(tenants=tenants)
        ids = [t.pk for t in tenants]
        calendar = BusinessCalendar.for_tenant(tenants[0])
        effective = {}
        for k in range(-SPREAD_DAYS, SPREAD_DAYS + 1):
            due = day + timedelta(days=k)
            effective[due] = calendar.effective_due_date(due)

        for tenant_id in ids:
            with transaction.atomic():
                _insert(
                    "collections_app_customer",
                    CUSTOMER_COLUMNS,
                    (
                        (
                            tenant_id,
                            f"C{c:03d}",
                            f"Cliente {c:03d}",
                            "",
                            f"cliente{c}@exemplo.com.br",
                            f"+55119{c:04d}{tenant_id % 10000:04d}",
                            "",
                            "[]",
                            "[]",
                            "[]",
                            "[]",
                            False,
                            "",
                            "new",
                            now,
                            now,
                        )
                        for c in range(CUSTOMERS_PER_TENANT)
                    ),
                )
        customers = {}
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT tenant_id, id FROM collections_app_customer WHERE tenant_id IN "
                f"({', '.join(['%s'] * len(ids))}) ORDER BY tenant_id, id",
                ids,
            )
            for tenant_id, customer_id in cursor.fetchall():
                customers.setdefault(tenant_id, []).append(customer_id)

        per_tenant = n_invoices // n_tenants
        span = 2 * SPREAD_DAYS + 1

        def invoice_rows(tenant_id: int, count: int):
            own = customers[tenant_id]
            for k in range(count):
                due = day + timedelta(days=(k * span) // count - SPREAD_DAYS)
                eff = effective[due]
                issue = due - timedelta(days=30)
                amount = Decimal(100 + (k * 37) % 900)
                paid = k % 5 == 0  # 80 % open
                paid_on = min(eff, day - timedelta(days=1)) if paid else None
                yield (
                    tenant_id,
                    own[k % len(own)],
                    f"INV-{k:07d}",
                    f"NF-{k:07d}",
                    "",
                    amount,
                    amount if paid else Decimal(0),
                    "BRL",
                    issue,
                    due,
                    eff,
                    "paid" if paid else "open",
                    datetime.combine(paid_on, dtime(15), tzinfo=UTC) if paid else None,
                    paid_on,
                    (paid_on - issue).days if paid else None,
                    max(0, (paid_on - eff).days) if paid else None,
                    secrets.token_urlsafe(18),
                    f"RGB{tenant_id:06d}{k:016d}",
                    "",
                    False,
                    "",
                    "",
                    False,
                    "",
                    now,
                    now,
                )

        for index, tenant_id in enumerate(ids):
            count = per_tenant + (1 if index < n_invoices % n_tenants else 0)
            with transaction.atomic():
                _insert("collections_app_invoice", INVOICE_COLUMNS, invoice_rows(tenant_id, count))
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE collections_app_invoice")
                cursor.execute("ANALYZE collections_app_customer")
        return ids

    def _open_count(self, tenant_ids: list[int]) -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM collections_app_invoice WHERE status = 'open' AND tenant_id"
                f" IN ({', '.join(['%s'] * len(tenant_ids))})",
                tenant_ids,
            )
            return cursor.fetchone()[0]

    # --- the bound --------------------------------------------------------------------------

    def _sql_bound(self, tenant_ids: list[int], day: date) -> tuple[float, int]:
        """One statement selecting the due (open invoice × step) pairs of day D through the
        same calendar mapping, with the ledger check, and inserting them into a scratch table."""
        with scopes_disabled():
            calendar = BusinessCalendar.for_tenant(Tenant.objects.get(pk=tenant_ids[0]))
        values, params = [], []
        cast = "CAST(%s AS date)" if connection.vendor == "postgresql" else "%s"
        now = "now()" if connection.vendor == "postgresql" else "CURRENT_TIMESTAMP"
        for offset, *_rest in DEFAULT_STEPS:
            for due, runs_on in _due_dates(offset, "calendar", calendar, day, day).items():
                values.append(f"(%s, %s, {cast}, {cast})")
                params += [offset, "calendar", due.isoformat(), runs_on.isoformat()]
        if not values:
            return 0.0, 0
        tenant_list = ", ".join(str(int(t)) for t in tenant_ids)
        sql = (
            f"WITH m(offset_days, day_kind, due, runs_on) AS (VALUES {', '.join(values)}) "
            "INSERT INTO collections_app_dispatch (tenant_id, invoice_id, step_id, "
            "scheduled_for, evaluated_on, status, reason, created_at) "
            f"SELECT i.tenant_id, i.id, s.id, m.runs_on, {cast}, 'queued', '', {now} "
            "FROM collections_app_invoice i "
            "JOIN collections_app_customer c ON c.id = i.customer_id "
            "JOIN collections_app_ladder l ON l.tenant_id = i.tenant_id AND l.is_default "
            "JOIN collections_app_ladderstep s ON s.ladder_id = l.id AND s.active "
            "JOIN m ON m.offset_days = s.offset_days AND m.day_kind = s.day_kind "
            "AND m.due = i.effective_due_date "
            f"WHERE i.tenant_id IN ({tenant_list}) AND i.status = 'open' "
            "AND c.segment_id IS NULL AND NOT EXISTS (SELECT 1 FROM collections_app_dispatch d "
            "WHERE d.invoice_id = i.id AND d.step_id = s.id)"
        )
        params.append(day.isoformat())
        # The bound writes real ledger rows — same table, indexes, unique and foreign-key
        # checks (made immediate, as a commit would run them) — and is then rolled back.
        best, rows = None, 0
        for _attempt in range(2):  # the first run warms the cache, as ours will find it
            with transaction.atomic(), connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                started = time.perf_counter()
                cursor.execute(sql, params)
                elapsed = time.perf_counter() - started
                cursor.execute(
                    "SELECT COUNT(*) FROM collections_app_dispatch "
                    f"WHERE tenant_id IN ({tenant_list})"
                )
                rows = cursor.fetchone()[0]
                transaction.set_rollback(True)
            best = elapsed if best is None else min(best, elapsed)
        return best or 0.0, rows
