"""Seeding the demo tenant through the domain services: the tenant and its team, the
portfolio's customers and invoices shifted to today, the payments as history, a month of the
real engine's reminders replayed day by day, and a week of the finance team's work."""

import random
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Max
from django.utils import timezone

from collections_app.activity.timeline import interaction_log
from collections_app.demo.portfolio import (
    AMOUNT_FACTOR,
    DUE_AHEAD_DAYS,
    LATE_TAIL_DAYS,
    SYNTHETIC_SEED,
    SourceRow,
    customer_items,
    late_tail_customers,
)
from collections_app.engine import ladder_evaluate
from collections_app.imports.payments import payments_import
from collections_app.invoices.services import customers_upsert, invoices_upsert
from collections_app.models import (
    Customer,
    Dispatch,
    FollowUpTask,
    Interaction,
    InteractionKind,
    Invoice,
    InvoiceStatus,
)
from collections_app.money import format_day, quantize
from messaging.models import Channel, Message, MessagePurpose, MessageStatus, ProviderAccount
from messaging.sending import message_send
from tenants.models import Membership, Role, Tenant, User
from tenants.services import tenant_create

# The README and the Makefile print this login: keep them in step.
DEMO_NAME = "Escola Horizonte"
OWNER_EMAIL = "demo@regua.local"
AGENT_EMAIL = "agente@regua.local"
DEMO_PASSWORD = "demo-regua-2026"
DEMO_TIMEZONE = "America/Sao_Paulo"
DEMO_STATE = "SP"
DEMO_SENDER = "financeiro@escolahorizonte.exemplo.com.br"

# Days of engine history replayed up to today: the dashboard's default period, so its
# per-step figures (sent, paid after a message) have something to show.
HISTORY_DAYS = 30


def _local(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz)


def _past(moment: datetime) -> datetime:
    """Nothing is recorded as happening later than the real clock (the seed may run at 3 a.m.
    for a "today" whose 10 o'clock has not come yet)."""
    return min(moment, timezone.now())


def _max_id(model) -> int:
    return model.objects.aggregate(m=Max("id"))["m"] or 0


def demo_tenant_create(*, slug: str) -> Tenant:
    tenant = tenant_create(
        slug=slug,
        name=DEMO_NAME,
        owner_email=OWNER_EMAIL,
        owner_password=DEMO_PASSWORD,
        timezone_name=DEMO_TIMEZONE,
        send_window="08:00-20:00",
        send_days="mon-sat",
    )
    # Before any invoice: the state calendar moves effective due dates.
    tenant.state = DEMO_STATE
    tenant.pix_key = DEMO_SENDER
    tenant.merchant_name = "ESCOLA HORIZONTE"
    tenant.merchant_city = "SAO PAULO"
    tenant.save(update_fields=["state", "pix_key", "merchant_name", "merchant_city"])

    owner = User.objects.get(email=OWNER_EMAIL)
    owner.first_name, owner.last_name = "Helena", "Martins"
    owner.save(update_fields=["first_name", "last_name"])
    agent = User.objects.filter(email=AGENT_EMAIL).first()
    if agent is None:
        agent = User.objects.create_user(email=AGENT_EMAIL, password=DEMO_PASSWORD)
    else:
        agent.set_password(DEMO_PASSWORD)
    agent.first_name, agent.last_name = "Rafael", "Souza"
    agent.save()
    Membership.objects.create(tenant=tenant, user=agent, role=Role.AGENT)

    # The demo's customers are made up but their numbers are valid: pin every channel of
    # the demo tenant to the console provider so nothing can reach a real phone, even on
    # a deployment whose platform defaults are real providers.
    ProviderAccount.objects.with_scope(tenant=tenant).bulk_create(
        ProviderAccount(
            tenant=tenant,
            channel=channel,
            provider="console",
            sender=DEMO_SENDER if channel == Channel.EMAIL else "",
        )
        for channel in Channel.values
    )
    return tenant


def demo_history_seed(
    *, tenant: Tenant, rows: list[SourceRow], today: date, step: Callable[[str], None]
) -> dict:
    """The customers, invoices and payments of `rows` shifted to `today`, a month of the
    engine's reminders replayed, and the finance team's week; returns the counts the command
    prints. `step` is told each stage, for progress."""
    tz = ZoneInfo(tenant.timezone)
    shift = today + timedelta(days=DUE_AHEAD_DAYS) - max(r.due_date for r in rows)
    late_tail = late_tail_customers(rows)
    tail_from = today - timedelta(days=LATE_TAIL_DAYS)

    def is_paid(row: SourceRow) -> bool:
        settled, due = row.settled_date + shift, row.due_date + shift
        if row.customer_id in late_tail and row.days_late and tail_from <= due < today:
            return False
        return settled <= today

    customer_ids = sorted({r.customer_id for r in rows})
    step(f"{len(customer_ids)} customers and {len(rows)} invoices")
    customers = {
        c.external_id: c
        for c, _created in customers_upsert(
            tenant=tenant,
            items=customer_items(customer_ids, random.Random(SYNTHETIC_SEED)),
        )
    }
    invoice_items = []
    for row in rows:
        due = row.due_date + shift
        invoice_items.append(
            {
                "external_id": row.invoice_number,
                # Unique like the source number (its last 6 digits are not).
                "number": f"NF-{int(row.invoice_number)}",
                "description": f"Mensalidade escolar {due.month:02d}/{due.year}",
                "amount": quantize(row.amount * AMOUNT_FACTOR),
                "issue_date": row.issue_date + shift,
                "due_date": due,
                "disputed": row.disputed and not is_paid(row),
                "customer": customers[row.customer_id],
            }
        )
    invoices = invoices_upsert(tenant=tenant, items=invoice_items)

    # Payments settled during the replayed month are recorded on their day, after that
    # day's reminders, so the history reads "reminded, then paid"; the others before any
    # reminder exists. Both go through the import's set-based history writer: the whole
    # demo is history and sends no thank-you (invariant 10).
    history_start = today - timedelta(days=HISTORY_DAYS - 1)
    earlier: list[tuple[Invoice, date, None]] = []
    payments_on: dict[date, list[tuple[Invoice, date, None]]] = defaultdict(list)
    for (invoice, _created), row in zip(invoices, rows, strict=True):
        if not is_paid(row):
            continue
        settled = row.settled_date + shift
        (payments_on[settled] if settled >= history_start else earlier).append(
            (invoice, settled, None)
        )
    step(f"{len(earlier)} payments of the earlier history")
    payments_import(tenant=tenant, items=earlier)

    step(f"Replaying {HISTORY_DAYS} days of reminders and payments")
    sent = _replay_engine(tenant, today, tz, payments_on)
    step("Calls, promises and tasks of the finance team")
    agent = User.objects.get(email=AGENT_EMAIL)
    _human_work(tenant, today, tz, agent)

    invoices_qs = Invoice.objects.all()
    open_qs = invoices_qs.filter(status=InvoiceStatus.OPEN)
    overdue = open_qs.filter(effective_due_date__lt=today).count()
    return {
        "customers": Customer.objects.count(),
        "invoices": invoices_qs.count(),
        "paid": invoices_qs.filter(status=InvoiceStatus.PAID).count(),
        "open": open_qs.count(),
        "overdue": overdue,
        "not_due": open_qs.count() - overdue,
        "sent": sent,
        "tasks": FollowUpTask.objects.filter(status="open").count(),
    }


def _replay_engine(
    tenant: Tenant,
    today: date,
    tz: ZoneInfo,
    payments_on: dict[date, list[tuple[Invoice, date, None]]],
) -> int:
    """Run the daily evaluation for the last HISTORY_DAYS days in order and send what each
    day queued at that day's window opening, without needing a worker. The engine and the
    sender stamp rows with the real clock; they are moved back to the day they belong to,
    so the timeline and the dashboard read like a month of work."""
    Tenant.objects.filter(pk=tenant.pk).update(last_evaluated_on=None)
    tenant.last_evaluated_on = None
    start = tenant.send_window_start
    sent = 0
    for back in range(HISTORY_DAYS - 1, -1, -1):
        day = today - timedelta(days=back)
        marks = {m: _max_id(m) for m in (Message, Interaction, Dispatch, FollowUpTask)}
        ladder_evaluate(tenant=tenant, today=day)
        evaluated_at = _past(_local(day, tenant.run_time, tz))

        queued = list(
            Message.objects.filter(
                pk__gt=marks[Message],
                status=MessageStatus.QUEUED,
                purpose=MessagePurpose.REMINDER,
            ).order_by("pk")
        )
        send_times = {}
        for i, message in enumerate(queued):
            # Batch sending from the window's opening, a few seconds apart.
            at = _local(day, start, tz) + timedelta(seconds=20 * i)
            outcome = message_send(tenant=tenant, message_id=message.pk, now=at)
            sent += outcome.status == MessageStatus.SENT
            send_times[message.pk] = _past(at)

        moved = []
        for message in Message.objects.filter(pk__gt=marks[Message]):
            message.created_at = evaluated_at
            if message.pk in send_times:
                if message.sending_at is not None:
                    message.sending_at = send_times[message.pk]
                if message.sent_at is not None:
                    message.sent_at = send_times[message.pk]
            moved.append(message)
        Message.objects.bulk_update(moved, ["created_at", "sending_at", "sent_at"])
        interactions = list(Interaction.objects.filter(pk__gt=marks[Interaction]))
        for interaction in interactions:
            status_change = interaction.kind == InteractionKind.MESSAGE_STATUS
            interaction.occurred_at = (
                send_times.get(interaction.message_id, evaluated_at)
                if status_change
                else evaluated_at
            )
        Interaction.objects.bulk_update(interactions, ["occurred_at"])
        Dispatch.objects.filter(pk__gt=marks[Dispatch]).update(created_at=evaluated_at)
        FollowUpTask.objects.filter(pk__gt=marks[FollowUpTask]).update(created_at=evaluated_at)
        # After the moves above: payment rows carry their own time already.
        payments_import(tenant=tenant, items=payments_on.get(day, []))
    return sent


def _human_work(tenant: Tenant, today: date, tz: ZoneInfo, agent: User) -> None:
    """What the finance agent did this week: calls, a promise, notes and two tasks."""
    # The oldest overdue invoice of each customer, most overdue first: one story each.
    overdue: list[Invoice] = []
    seen: set[int] = set()
    for invoice in (
        Invoice.objects.filter(
            status=InvoiceStatus.OPEN, effective_due_date__lt=today, disputed=False
        )
        .select_related("customer")
        .order_by("effective_due_date", "id")
    ):
        if invoice.customer_id not in seen:
            seen.add(invoice.customer_id)
            overdue.append(invoice)
    disputed = (
        Invoice.objects.filter(status=InvoiceStatus.OPEN, disputed=True)
        .select_related("customer")
        .order_by("effective_due_date", "id")
        .first()
    )
    friday = today + timedelta(days=(4 - today.weekday()) % 7 or 7)

    def at(days_ago: int, hour: int, minute: int = 0) -> datetime:
        day = today - timedelta(days=days_ago)
        if day.weekday() == 6:  # the finance team does not work on Sundays
            day -= timedelta(days=1)
        return _past(_local(day, time(hour, minute), tz))

    def log(invoice: Invoice, kind: str, summary: str, when: datetime, **data) -> None:
        interaction_log(
            tenant=tenant,
            customer_id=invoice.customer_id,
            invoice=invoice,
            kind=kind,
            summary=summary,
            data=data,
            actor=agent,
            occurred_at=when,
        )

    def task(invoice: Invoice, title: str, notes: str, due_on: date, when: datetime) -> None:
        FollowUpTask.objects.create(
            tenant=tenant,
            customer=invoice.customer,
            invoice=invoice,
            title=title,
            notes=notes,
            assignee=agent,
            due_on=due_on,
            created_at=when,
        )
        log(invoice, InteractionKind.TASK, title, when, assignee=agent.email)

    if len(overdue) > 0:
        invoice = overdue[0]
        log(
            invoice,
            InteractionKind.CALL,
            "Ligação: cliente relatou dificuldade financeira e pediu para parcelar o débito",
            at(4, 10, 15),
        )
        task(
            invoice,
            f"Enviar proposta de acordo para {invoice.customer.name}",
            "Cliente aceita parcelar em até 3 vezes; montar a proposta com as faturas em aberto.",
            today + timedelta(days=1),
            at(4, 10, 20),
        )
    if len(overdue) > 1:
        invoice = overdue[1]
        log(
            invoice,
            InteractionKind.CALL,
            "Ligação: cliente informou que paga na sexta",
            at(2, 14, 30),
        )
        log(
            invoice,
            InteractionKind.PROMISE,
            f"Promessa de pagamento para {format_day(friday)}",
            at(2, 14, 32),
            date=friday.isoformat(),
            amount=str(invoice.amount_due),
        )
    if len(overdue) > 2:
        invoice = overdue[2]
        log(
            invoice,
            InteractionKind.CALL,
            "Ligação sem sucesso: caixa postal; deixado recado",
            at(1, 9, 40),
        )
        task(
            invoice,
            f"Tentar novo contato com {invoice.customer.name}",
            "Não atendeu na primeira tentativa; tentar no fim da tarde.",
            today,
            at(1, 9, 45),
        )
    if len(overdue) > 3:
        log(
            overdue[3],
            InteractionKind.NOTE,
            "Cliente pediu a segunda via do boleto por e-mail; enviada pela página de pagamento",
            at(3, 11, 5),
        )
    if disputed is not None:
        log(
            disputed,
            InteractionKind.NOTE,
            "Cliente contesta o valor: alega cobrança em duplicidade; aguardando comprovante",
            at(1, 16, 10),
        )
