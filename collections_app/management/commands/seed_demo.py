"""`python manage.py seed_demo [--if-empty] [--slug demo] [--today YYYY-MM-DD]`

Creates the demo tenant so a newcomer's first look at the product shows a live portfolio: a
school with 100 customers, two years of invoices (mostly paid, some overdue, some due soon),
a month of reminders already sent by the real engine, and a few calls, promises and tasks.

The invoices come from the IBM accounts-receivable sample in `shared/data/` beside the repo
(read in place, never copied: its licence is unclear), shifted so the latest due date lands
DUE_AHEAD_DAYS after today. Where the file is absent (a Docker image) a synthetic portfolio of
the same shape is generated from a fixed seed, so the demo is the same on every machine.

Everything goes through the domain services (tenant_create, invoices_upsert,
invoice_record_payment, ladder_evaluate, message_send), so the demo shows exactly what the
product would have recorded; the payments are history and send no thank-you (invariant 10).
"""

import logging
import random
import time as time_module
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.text import slugify
from django_scopes import scope

from collections_app.demo.portfolio import (
    SYNTHETIC_SEED,
    read_source_csv,
    source_csv_path,
    synthetic_rows,
)
from collections_app.demo.seeding import (
    AGENT_EMAIL,
    DEMO_PASSWORD,
    DEMO_TIMEZONE,
    HISTORY_DAYS,
    OWNER_EMAIL,
    demo_history_seed,
    demo_tenant_create,
)
from collections_app.stats.rollups import funnel_rebuild, stats_refresh
from tenants.models import Tenant
from tenants.services import TenantConfigError

# The names the tests use: the command reads the source through them (a test replaces one).
__all__ = ["source_csv_path", "synthetic_rows"]


class Command(BaseCommand):
    help = (
        "Create the demo tenant (Escola Horizonte) with realistic customers, invoices, payments "
        "and a month of reminders. Login: demo@regua.local / demo-regua-2026."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing (and succeed) when any tenant exists already",
        )
        parser.add_argument("--slug", default="demo", help="slug of the demo tenant")
        parser.add_argument("--today", help="YYYY-MM-DD, the day taken as today (default: now)")

    def handle(self, *args, **opts):
        slug = slugify(opts["slug"])
        if not slug:
            raise CommandError("--slug must contain letters or digits")
        real_today = timezone.now().astimezone(ZoneInfo(DEMO_TIMEZONE)).date()
        today = real_today
        if opts["today"]:
            today = parse_date(opts["today"]) if len(opts["today"]) == 10 else None
            if today is None:
                raise CommandError(f"--today {opts['today']!r} must be YYYY-MM-DD")
            if today > real_today:
                # Payments are never recorded in the future (the payment service refuses them).
                raise CommandError(f"--today {today} is after today ({real_today})")

        if opts["if_empty"] and Tenant.objects.exists():
            self.stdout.write(
                "A tenant exists already: demo data is only seeded into an empty database, "
                f"nothing changed. (Demo login, if it is the demo: {OWNER_EMAIL} / "
                f"{DEMO_PASSWORD})"
            )
            return
        if Tenant.objects.filter(slug=slug).exists():
            raise CommandError(
                f"Tenant {slug!r} already exists. Use --if-empty to skip seeding when data is "
                "there, or --slug to seed another tenant."
            )

        path = source_csv_path()
        if path.is_file():
            rows, source = read_source_csv(path), f"{path.name} (IBM sample, dates shifted)"
        else:
            rows, source = synthetic_rows(random.Random(SYNTHETIC_SEED)), "synthetic portfolio"

        # Hundreds of demo messages would flood the terminal of `make run`; they still go to
        # the outbox file like any console-provider message.
        outbox_logger = logging.getLogger("regua.outbox")
        previous_level = outbox_logger.level
        outbox_logger.setLevel(logging.WARNING)
        try:
            # One transaction: a failure leaves no half-seeded tenant behind, so the next
            # `--if-empty` run starts clean. Celery sends queued on commit find the messages
            # already sent and do nothing.
            with transaction.atomic():
                self._step(f"Creating the demo tenant from {source}")
                tenant = demo_tenant_create(slug=slug)
                with scope(tenant=tenant):
                    summary = demo_history_seed(
                        tenant=tenant, rows=rows, today=today, step=self._step
                    )
                    # The history is written around the services in places: recompute the
                    # dashboard's rollups from the invoices once, at the end.
                    self._step("Dashboard figures")
                    stats_refresh(tenant_id=tenant.pk)
                    funnel_rebuild(tenant_id=tenant.pk)
        except TenantConfigError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            outbox_logger.setLevel(previous_level)

        self.stdout.write(
            self.style.SUCCESS(
                f"Demo tenant {tenant.slug!r} ({tenant.name}) seeded for {today} from {source}."
            )
        )
        self.stdout.write(
            f"  {summary['customers']} customers, {summary['invoices']} invoices: "
            f"{summary['paid']} paid, {summary['open']} open "
            f"({summary['overdue']} overdue, {summary['not_due']} not yet due)"
        )
        self.stdout.write(
            f"  {summary['sent']} reminders sent over the last {HISTORY_DAYS} days, "
            f"{summary['tasks']} follow-up tasks open"
        )
        self.stdout.write(
            f"  Log in at {settings.PUBLIC_BASE_URL}/ as {OWNER_EMAIL} / {DEMO_PASSWORD} "
            f"(agent: {AGENT_EMAIL}, same password)"
        )

    # --- steps ---------------------------------------------------------------------------

    def _step(self, text: str) -> None:
        """One line of progress (the first `make run` waits on this command)."""
        if not hasattr(self, "_started"):
            self._started = time_module.monotonic()
        elapsed = time_module.monotonic() - self._started
        self.stdout.write(f"  [{elapsed:5.1f} s] {text}…")
        self.stdout.flush()
