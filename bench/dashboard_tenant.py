"""The large tenant the dashboard benchmark measures: invoices over two years of due dates,
customers in three segments, payments, months of reminders with their timeline, clicks, tasks
and replies, written in bulk (COPY on PostgreSQL)."""

import random
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from collections_app.engine.bulk import insert_rows
from collections_app.models import (
    Customer,
    FollowUpTask,
    Interaction,
    Invoice,
    InvoiceMessage,
    Ladder,
    Payment,
    Segment,
)
from collections_app.stats.rollups import funnel_rebuild, stats_refresh
from messaging.models import Message, MessagePurpose, MessageStatus, Template, new_message_refs
from tenants.models import Role, Tenant, User
from tenants.services import tenant_create

CHUNK = 50_000


def dashboard_tenant_build(n: int, log: Callable[[str], None]) -> Tenant:
    """A tenant with `n` invoices and the history the pages show (see the command's docstring)."""
    rng = random.Random(42)
    slug = f"bench-dash-{secrets.token_hex(3)}"
    with scopes_disabled():
        tenant = tenant_create(
            slug=slug,
            name=f"Bench {slug}",
            owner_email=f"{slug}@bench.local",
            owner_password="bench-dashboard",
        )
    today = timezone.localdate()
    now = timezone.now()
    n_customers = max(100, n // 20)
    with scope(tenant=tenant), transaction.atomic():
        ladder = Ladder.objects.get(is_default=True)
        segments = [
            Segment.objects.create(tenant=tenant, name=name, priority=k, rule={}, ladder=ladder).pk
            for k, name in enumerate(("Escolas", "Clínicas", "Varejo"))
        ]
        customer_ids = insert_rows(
            Customer,
            ("tenant_id", "external_id", "name", "email", "phone", "segment_id", "created_at"),
            [
                (
                    tenant.pk,
                    f"C{c:06d}",
                    f"Cliente {c:06d}",
                    f"cliente{c}@exemplo.com.br",
                    f"+55119{c:08d}",
                    segments[c % 3],
                    now,
                )
                for c in range(n_customers)
            ],
        )
    log(f"{n_customers} customers")
    invoice_ids, paid_ids, recent = [], [], []
    for start in range(0, n, CHUNK):
        rows = []
        for k in range(start, min(n, start + CHUNK)):
            due = today - timedelta(days=rng.randint(-60, 700))
            issue = due - timedelta(days=30)
            amount = Decimal(rng.randint(5_000, 500_000)) / 100
            late_days = rng.choice((-3, 0, 0, 2, 5, 12, 30, 75, None))
            paid_on = due + timedelta(days=late_days) if late_days is not None else None
            if paid_on is not None and paid_on >= today:
                paid_on = None
            rows.append(
                (
                    tenant.pk,
                    customer_ids[k % n_customers],
                    f"INV-{k:07d}",
                    f"NF-{k:07d}",
                    amount,
                    amount if paid_on else Decimal(0),
                    issue,
                    due,
                    due,
                    "paid" if paid_on else "open",
                    datetime(paid_on.year, paid_on.month, paid_on.day, 15, tzinfo=UTC)
                    if paid_on
                    else None,
                    paid_on,
                    (paid_on - issue).days if paid_on else None,
                    max(0, (paid_on - due).days) if paid_on else None,
                    now,
                )
            )
        with transaction.atomic():
            ids = insert_rows(
                Invoice,
                (
                    "tenant_id",
                    "customer_id",
                    "external_id",
                    "number",
                    "amount",
                    "amount_paid",
                    "issue_date",
                    "due_date",
                    "effective_due_date",
                    "status",
                    "paid_at",
                    "paid_on",
                    "days_to_pay",
                    "days_late",
                    "created_at",
                ),
                rows,
            )
        for new_id, row in zip(ids, rows, strict=True):
            if row[9] == "paid":
                paid_ids.append((new_id, row[1], row[4], row[10]))
            if (today - row[7]).days <= 90:
                recent.append((new_id, row[1], row[7]))
        invoice_ids.extend(ids)
        log(f"{len(invoice_ids)} invoices")
    _payments(tenant, paid_ids)
    log(f"{len(paid_ids)} payments")
    _reminders(tenant, recent, rng)
    log(f"{len(recent)} reminders with their timeline")
    _work(tenant, customer_ids, invoice_ids, rng)
    started = time.perf_counter()
    with scope(tenant=tenant):
        rows = stats_refresh(tenant_id=tenant.pk) + funnel_rebuild(tenant_id=tenant.pk)
    log(f"{rows} rollup rows in {time.perf_counter() - started:.1f} s")
    return tenant


def _payments(tenant, paid):
    for start in range(0, len(paid), CHUNK):
        chunk = paid[start : start + CHUNK]
        with transaction.atomic():
            insert_rows(
                Payment,
                ("tenant_id", "invoice_id", "amount", "paid_at", "source", "created_at"),
                [(tenant.pk, inv, amount, at, "api", at) for inv, _c, amount, at in chunk],
            )
            insert_rows(
                Interaction,
                ("tenant_id", "customer_id", "invoice_id", "kind", "summary", "occurred_at"),
                [
                    (tenant.pk, customer, inv, "payment", f"R$ {amount} (api)", at)
                    for inv, customer, amount, at in chunk
                ],
            )


def _reminders(tenant, recent, rng):
    with scopes_disabled():
        template = Template.objects.get(
            tenant=tenant, key="due_today", channel="email", locale=tenant.locale
        )
    for start in range(0, len(recent), CHUNK):
        chunk = recent[start : start + CHUNK]
        sent = [datetime(d.year, d.month, d.day, 11, tzinfo=UTC) for _i, _c, d in chunk]
        statuses = [rng.choice(("sent", "delivered", "delivered", "read")) for _ in chunk]
        with transaction.atomic():
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
                    "body",
                    "sent_at",
                    "delivered_at",
                    "created_at",
                ),
                [
                    (
                        tenant.pk,
                        "email",
                        "cliente@exemplo.com.br",
                        template.pk,
                        MessagePurpose.REMINDER,
                        status,
                        ref,
                        "Lembrete",
                        at,
                        at if status != MessageStatus.SENT else None,
                        at,
                    )
                    for status, ref, at in zip(
                        statuses, new_message_refs(len(chunk)), sent, strict=True
                    )
                ],
            )
            insert_rows(
                InvoiceMessage,
                ("tenant_id", "message_id", "invoice_id"),
                [
                    (tenant.pk, mid, inv)
                    for mid, (inv, _c, _d) in zip(message_ids, chunk, strict=True)
                ],
            )
            timeline = []
            for mid, (inv, customer, _d), at, status in zip(
                message_ids, chunk, sent, statuses, strict=True
            ):
                timeline.append(
                    (
                        tenant.pk,
                        customer,
                        inv,
                        mid,
                        "message_status",
                        "email",
                        f"email: sending → {status}",
                        at,
                    )
                )
                if rng.random() < 0.1:
                    timeline.append(
                        (
                            tenant.pk,
                            customer,
                            inv,
                            mid,
                            "click",
                            "email",
                            "Página de pagamento aberta",
                            at + timedelta(hours=2),
                        )
                    )
            insert_rows(
                Interaction,
                (
                    "tenant_id",
                    "customer_id",
                    "invoice_id",
                    "message_id",
                    "kind",
                    "channel",
                    "summary",
                    "occurred_at",
                ),
                timeline,
            )


def _work(tenant, customer_ids, invoice_ids, rng):
    today = timezone.localdate()
    with scopes_disabled():
        owner = User.objects.get(memberships__tenant=tenant, memberships__role=Role.OWNER)
    with transaction.atomic():
        insert_rows(
            FollowUpTask,
            (
                "tenant_id",
                "customer_id",
                "invoice_id",
                "title",
                "origin",
                "due_on",
                "assignee_id",
                "created_at",
            ),
            [
                (
                    tenant.pk,
                    customer_ids[k % len(customer_ids)],
                    invoice_ids[k * 97 % len(invoice_ids)],
                    "Ligar para o cliente" if k % 5 else "Responder mensagem do cliente",
                    "step" if k % 5 else "reply",
                    today - timedelta(days=rng.randint(0, 20)),
                    owner.pk if k % 2 else None,
                    timezone.now(),
                )
                for k in range(2000)
            ],
        )
