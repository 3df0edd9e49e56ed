"""Benchmark of the finance team's pages on one large tenant.

It builds a tenant with N invoices (default 1,000,000) spread over two years of due dates, their
customers in three segments, payments, the reminders of the last months with their links and
timeline entries, clicks, tasks and replies — written with COPY on PostgreSQL. Then it logs in
as the tenant's owner and requests each dashboard page R times through Django's test client
(the whole stack: middleware, scoping, templates), and prints each page's p50 and p95 in
milliseconds, with `/healthz` (one query) measured the same way as the reference."""

import json
import statistics
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django_scopes import scopes_disabled

from bench.dashboard_tenant import dashboard_tenant_build
from bench.measure import p95
from collections_app.models import (
    Customer,
    Invoice,
    Ladder,
    Segment,
)
from tenants.models import Role, User

PAGES = [
    ("overview", "/"),
    ("overview_segment", "/?segment={segment}"),
    ("overdue_queue", "/invoices/"),
    ("overdue_search", "/invoices/?q=Cliente%200042"),
    ("overdue_page_40", "/invoices/?page=40"),
    ("invoice", "/invoices/{invoice}/"),
    ("customer", "/customers/{customer}/"),
    ("tasks", "/tasks/?who=all"),
    ("replies", "/replies/"),
    ("settings", "/settings/company/"),
    ("ladders", "/settings/ladders/"),
    ("ladder_editor", "/settings/ladders/{ladder}/"),
    ("ladder_forecast", "/settings/ladders/{ladder}/preview/"),
    ("segments", "/settings/segments/"),
    ("templates", "/settings/templates/"),
    ("providers", "/settings/providers/"),
    ("team", "/settings/team/"),
    ("api_keys", "/settings/api-keys/"),
]


class Command(BaseCommand):
    help = "Build a tenant with many invoices and time every dashboard page (p50/p95 in ms)."

    def add_arguments(self, parser):
        parser.add_argument("--invoices", type=int, default=1_000_000)
        parser.add_argument("--requests", type=int, default=20, help="timed requests per page")
        parser.add_argument("--tenant", help="measure an existing bench tenant (slug) again")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        if opts["invoices"] < 1000:
            raise CommandError("--invoices must be at least 1000")
        log = (lambda msg: None) if opts["json"] else (lambda msg: self.stdout.write(msg))
        started = time.perf_counter()
        if opts["tenant"]:
            with scopes_disabled():
                tenant = Customer.objects.filter(tenant__slug=opts["tenant"]).first()
                if tenant is None:
                    raise CommandError(f"No bench tenant {opts['tenant']!r}")
                tenant = tenant.tenant
            build_seconds = 0.0
        else:
            tenant = dashboard_tenant_build(opts["invoices"], log)
            build_seconds = time.perf_counter() - started
            log(f"built in {build_seconds:.0f} s")
        if connection.vendor == "postgresql":
            # What autovacuum does to a live database: statistics and visibility maps (the
            # latter let counts be answered from indexes alone).
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        results = self._measure(tenant, opts["requests"], log)
        with scopes_disabled():
            count = Invoice.objects.filter(tenant=tenant).count()
        reference = results.pop("healthz")
        summary = {
            "invoices": count,
            "requests_per_page": opts["requests"],
            "reference_healthz_p95_ms": reference["p95_ms"],
            "pages": results,
            "worst_p95_ms": max(r["p95_ms"] for r in results.values()),
            "target_p95_ms": 150,
            "build_seconds": round(build_seconds, 1),
            "database": connection.vendor,
            "tenant": tenant.slug,
        }
        self.stdout.write(json.dumps(summary))

    # --- the pages ----------------------------------------------------------------------------

    def _measure(self, tenant, requests: int, log) -> dict:
        with scopes_disabled():
            owner = User.objects.get(memberships__tenant=tenant, memberships__role=Role.OWNER)
            invoice = (
                Invoice.objects.filter(tenant=tenant, status="open")
                .order_by("effective_due_date")
                .first()
            )
            segment = Segment.objects.filter(tenant=tenant).order_by("pk").first()
            ladder = Ladder.objects.get(tenant=tenant, is_default=True)
        client = Client()
        client.force_login(owner)
        ids = {
            "invoice": invoice.pk,
            "customer": invoice.customer_id,
            "segment": segment.pk,
            "ladder": ladder.pk,
        }
        results = {}
        for name, path in [("healthz", "/healthz"), *PAGES]:
            url = path.format(**ids)
            timings = []
            for k in range(requests + 2):
                started = time.perf_counter()
                response = client.get(url)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise CommandError(f"{url} answered {response.status_code}")
                if k >= 2:  # two warm-up requests
                    timings.append(elapsed)
            timings.sort()
            results[name] = {
                "path": url,
                "p50_ms": round(statistics.median(timings), 1),
                "p95_ms": round(p95(timings), 1),
            }
            figures = results[name]
            log(f"{name:18} p50 {figures['p50_ms']:8.1f} ms   p95 {figures['p95_ms']:8.1f} ms")
        return results
