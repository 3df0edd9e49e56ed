"""Benchmark of the send path: reminders through real Celery workers and the real `twilio` SDK.

It builds a tenant with N reminders (invoice, customer and SMS message each) queued for its
Twilio SMS account, starts a loopback fake of Twilio's API that answers after the given latency
(in its own process) and W Celery worker processes with a threads pool on a queue of their own,
and publishes the `send_messages` tasks the daily evaluation would. Each batch goes through the
production send path — claim, render, provider calls in flight together, statuses recorded in
the database — with the rate limits lifted. It prints messages per second (first claim to last
`sent`) and the p95 of a message's send (its claim to the provider's answer)."""

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from bench.fakes import FakeTwilio, sdk_reference
from bench.measure import p95
from collections_app.engine.bulk import insert_rows
from collections_app.models import Customer, Invoice, InvoiceMessage
from config.celery import app as celery_app
from config.dburl import database_url
from messaging.enqueue import SEND_BATCH
from messaging.models import (
    Message,
    MessagePurpose,
    MessageStatus,
    ProviderAccount,
    Template,
    new_message_refs,
)
from messaging.tasks import send_messages
from tenants.services import tenant_create


class Command(BaseCommand):
    help = "Send N reminders through Celery workers and the twilio SDK to a loopback fake."

    def add_arguments(self, parser):
        parser.add_argument("--messages", type=int, default=1000)
        parser.add_argument("--latency-ms", type=float, default=100.0)
        parser.add_argument("--workers", type=int, default=2, help="worker processes")
        parser.add_argument(
            "--concurrency", type=int, default=2, help="task threads per worker process"
        )
        parser.add_argument(
            "--send-concurrency",
            type=int,
            default=0,
            help="provider calls in flight per worker process "
            "(default: MESSAGING_SEND_CONCURRENCY)",
        )
        parser.add_argument("--broker", default="", help="default: the configured broker")
        parser.add_argument("--timeout", type=float, default=0, help="seconds to wait at most")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        n = opts["messages"]
        if n < 1 or opts["workers"] < 1 or opts["concurrency"] < 1:
            raise CommandError("--messages, --workers and --concurrency must be at least 1")
        broker = opts["broker"] or settings.CELERY_BROKER_URL
        if broker.startswith("filesystem://") or (
            connection.vendor == "sqlite" and opts["workers"] * opts["concurrency"] > 1
        ):
            raise CommandError(
                "bench_send needs a broker and a database shared by several processes: "
                "set REDIS_URL and DATABASE_URL (PostgreSQL)"
            )
        log = (lambda msg: None) if opts["json"] else (lambda msg: self.stdout.write(msg))
        started = time.perf_counter()
        tenant, ids = self._build(n)
        log(f"built {n} queued reminders in {time.perf_counter() - started:.1f} s")

        queue = f"bench-send-{uuid.uuid4().hex[:8]}"
        with (
            FakeTwilio(latency=opts["latency_ms"] / 1000) as fake_url,
            tempfile.TemporaryDirectory() as tmp,
        ):
            send_concurrency = opts["send_concurrency"] or settings.MESSAGING_SEND_CONCURRENCY
            reference = sdk_reference(
                fake_url,
                messages=min(n, 2000),
                processes=opts["workers"],
                threads=send_concurrency,
            )
            log(f"reference (bare twilio SDK, same fake): {reference:.1f} messages/s")
            workers = self._start_workers(opts, broker, queue, fake_url, Path(tmp))
            eager = celery_app.conf.task_always_eager
            celery_app.conf.task_always_eager = False  # the workers send, not this process
            try:
                with celery_app.connection(broker) as conn, conn.Producer() as producer:
                    for i in range(0, n, SEND_BATCH):
                        send_messages.apply_async(
                            kwargs={"message_ids": ids[i : i + SEND_BATCH], "tenant_id": tenant.pk},
                            queue=queue,
                            producer=producer,
                        )
                timeout = opts["timeout"] or 120 + n / 20
                self._wait(tenant, n, timeout, workers)
            finally:
                celery_app.conf.task_always_eager = eager
                for proc, _log in workers:
                    proc.terminate()
                for proc, _log in workers:
                    try:
                        proc.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        proc.kill()
        summary = self._measure(tenant, n, opts)
        summary["reference_messages_per_second"] = round(reference, 1)
        if summary["messages_per_second"]:
            summary["ratio_to_reference"] = round(reference / summary["messages_per_second"], 2)
        log(
            f"{summary['sent']} sent in {summary['seconds']} s: "
            f"{summary['messages_per_second']} messages/s, p95 {summary['p95_send_ms']} ms, "
            f"{summary.get('ratio_to_reference')}x the reference's time"
        )
        self.stdout.write(json.dumps(summary))

    # --- the reminders ----------------------------------------------------------------------

    def _build(self, n: int):
        slug = f"bench-send-{secrets.token_hex(3)}"
        with scopes_disabled():
            tenant = tenant_create(
                slug=slug,
                name=f"Bench {slug}",
                owner_email=f"{slug}@bench.local",
                send_window="00:00-23:59",
                send_days="mon-sun",
            )
        today = timezone.localdate()
        now = timezone.now()
        with scope(tenant=tenant), transaction.atomic():
            account = ProviderAccount(
                tenant=tenant, channel="sms", provider="twilio_sms", sender="+5511900000000"
            )
            account.credentials = {"account_sid": "AC" + secrets.token_hex(16), "auth_token": "x"}
            account.save()
            template = Template.objects.get(key="due_today", channel="sms", locale=tenant.locale)
            phones = [f"+55119{k:08d}" for k in range(n)]
            customer_ids = insert_rows(
                Customer,
                ("tenant_id", "external_id", "name", "phone", "preferred_channels", "created_at"),
                [(tenant.pk, f"C{k}", f"Cliente {k}", phones[k], ["sms"], now) for k in range(n)],
            )
            invoice_ids = insert_rows(
                Invoice,
                (
                    "tenant_id",
                    "customer_id",
                    "external_id",
                    "number",
                    "amount",
                    "issue_date",
                    "due_date",
                    "effective_due_date",
                    "created_at",
                ),
                [
                    (
                        tenant.pk,
                        customer_ids[k],
                        f"INV-{k}",
                        f"NF-{k}",
                        Decimal(100 + k % 900),
                        today - timedelta(days=30),
                        today,
                        today,
                        now,
                    )
                    for k in range(n)
                ],
            )
            refs = new_message_refs(n)
            message_ids = insert_rows(
                Message,
                (
                    "tenant_id",
                    "channel",
                    "recipient",
                    "template_id",
                    "purpose",
                    "status",
                    "ref",
                    "created_at",
                ),
                [
                    (
                        tenant.pk,
                        "sms",
                        phones[k],
                        template.pk,
                        MessagePurpose.REMINDER,
                        MessageStatus.QUEUED,
                        refs[k],
                        now,
                    )
                    for k in range(n)
                ],
            )
            insert_rows(
                InvoiceMessage,
                ("tenant_id", "message_id", "invoice_id"),
                [(tenant.pk, message_ids[k], invoice_ids[k]) for k in range(n)],
            )
        return tenant, message_ids

    # --- the workers ------------------------------------------------------------------------

    def _start_workers(self, opts, broker: str, queue: str, fake_url: str, tmp: Path):
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get(
                "DJANGO_SETTINGS_MODULE", "config.settings.local"
            ),
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "CELERY_BROKER_URL": broker,
            "CELERY_QUEUE": queue,
            "DATABASE_URL": database_url(),
            "TWILIO_API_BASE": fake_url,
            "MESSAGING_RATE_LIMITS": "false",
            "MESSAGING_SEND_CONCURRENCY": str(
                opts["send_concurrency"] or settings.MESSAGING_SEND_CONCURRENCY
            ),
        }
        workers = []
        for w in range(opts["workers"]):
            log_path = tmp / f"worker-{w}.log"
            log = open(log_path, "w+")
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "--pool=threads",
                    f"--concurrency={opts['concurrency']}",
                    "-Q",
                    queue,
                    "-n",
                    f"bench{w}-{queue}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "--loglevel=WARNING",
                ],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            workers.append((proc, log))
        return workers

    def _wait(self, tenant, n: int, timeout: float, workers):
        """Wait until no message is queued or sending."""
        deadline = time.monotonic() + timeout
        with scopes_disabled():
            pending = Message.objects.filter(
                tenant=tenant, status__in=[MessageStatus.QUEUED, MessageStatus.SENDING]
            )
            while pending.exists():
                if any(proc.poll() is not None for proc, _log in workers):
                    raise CommandError(f"A worker stopped:\n{self._logs(workers)}")
                if time.monotonic() > deadline:
                    raise CommandError(
                        f"{pending.count()} of {n} messages not sent within {timeout:.0f} s:\n"
                        f"{self._logs(workers)}"
                    )
                time.sleep(0.05)

    @staticmethod
    def _logs(workers) -> str:
        text = []
        for _proc, log in workers:
            log.seek(0)
            text.append(log.read()[-2000:])
        return "\n".join(text)

    # --- the figures ------------------------------------------------------------------------

    def _measure(self, tenant, n: int, opts) -> dict:
        with scopes_disabled():
            sent = Message.objects.filter(tenant=tenant, status=MessageStatus.SENT)
            span = sent.aggregate(first=Min("sending_at"), last=Max("sent_at"))
            durations = sorted(
                (m_sent - m_sending).total_seconds()
                for m_sending, m_sent in sent.values_list("sending_at", "sent_at")
            )
            failed = Message.objects.filter(tenant=tenant, status=MessageStatus.FAILED).count()
            retried = Message.objects.filter(tenant=tenant, attempts__gt=1).count()
        # From the first claim to the last message recorded, both on the workers' clock.
        seconds = (span["last"] - span["first"]).total_seconds() if durations else 0.0
        send_p95 = p95(durations)
        return {
            "messages": n,
            "sent": len(durations),
            "failed": failed,
            "retried": retried,
            "latency_ms": opts["latency_ms"],
            "workers": opts["workers"],
            "concurrency": opts["concurrency"],
            "send_concurrency": int(
                opts["send_concurrency"] or settings.MESSAGING_SEND_CONCURRENCY
            ),
            "seconds": round(seconds, 3),
            "messages_per_second": round(len(durations) / seconds, 1) if seconds else None,
            "p95_send_ms": round(send_p95 * 1000, 1),
            "database": connection.vendor,
            "tenant": tenant.slug,
        }
