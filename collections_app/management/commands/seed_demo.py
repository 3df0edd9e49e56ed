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

import csv
import logging
import random
import string
import time as time_module
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.text import slugify
from django_scopes import scope

from collections_app.activity.timeline import interaction_log
from collections_app.documents import _cnpj_check, _cpf_check
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
from collections_app.stats.rollups import funnel_rebuild, stats_refresh
from messaging.models import Channel, Message, MessagePurpose, MessageStatus, ProviderAccount
from messaging.sending import message_send
from tenants.models import Membership, Role, Tenant, User
from tenants.services import TenantConfigError, tenant_create

# The README and the Makefile print this login: keep them in step.
DEMO_NAME = "Escola Horizonte"
OWNER_EMAIL = "demo@regua.local"
AGENT_EMAIL = "agente@regua.local"
DEMO_PASSWORD = "demo-regua-2026"
DEMO_TIMEZONE = "America/Sao_Paulo"
DEMO_STATE = "SP"
DEMO_SENDER = "financeiro@escolahorizonte.exemplo.com.br"

SOURCE_CSV_NAME = "accounts_receivable_ibm.csv"
SYNTHETIC_SEED = 42
# The latest due date lands this many days after today, so pre-due reminders have work.
DUE_AHEAD_DAYS = 35
# The sample's amounts are small dollars (5–130); ×10 gives plausible monthly school fees.
AMOUNT_FACTOR = Decimal(10)
# Days of engine history replayed up to today: the dashboard's default period, so its
# per-step figures (sent, paid after a message) have something to show.
HISTORY_DAYS = 30
# The sample only holds invoices settled before its cut-off, so its last weeks have almost no
# late payers and today's overdue list would be nearly empty. The worst payers are taken not
# to have paid their late invoices of the last LATE_TAIL_DAYS yet, which gives the aging
# buckets and the later ladder steps something real to show.
LATE_TAIL_CUSTOMERS = 10
LATE_TAIL_DAYS = 100
# Share of customers that are companies (CNPJ) rather than people (CPF).
CNPJ_SHARE = 0.3

COUNTRY_CODES = ("391", "406", "770", "818", "897")

FIRST_NAMES = (
    "Ana", "Beatriz", "Camila", "Daniela", "Eduarda", "Fernanda", "Gabriela", "Helena",
    "Isabela", "Juliana", "Larissa", "Luana", "Mariana", "Natália", "Patrícia", "Renata",
    "Sofia", "Tatiane", "Vanessa", "Yasmin", "André", "Bruno", "Carlos", "Diego", "Eduardo",
    "Felipe", "Gustavo", "Henrique", "Igor", "João", "Lucas", "Marcelo", "Mateus", "Paulo",
    "Rafael", "Ricardo", "Rodrigo", "Thiago", "Vinícius", "Leonardo",
)  # fmt: skip
LAST_NAMES = (
    "Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira",
    "Lima", "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes", "Soares",
    "Fernandes", "Vieira", "Barbosa", "Rocha", "Dias", "Nascimento", "Andrade", "Moreira",
    "Nunes", "Marques", "Machado", "Mendes", "Freitas", "Cardoso", "Ramos", "Gonçalves",
    "Santana", "Teixeira", "Araújo", "Cavalcanti", "Monteiro", "Moura", "Correia",
)  # fmt: skip
COMPANY_KINDS = (
    "Comercial", "Construtora", "Distribuidora", "Transportadora", "Clínica", "Papelaria",
    "Contabilidade", "Auto Peças", "Farmácia", "Padaria", "Consultoria", "Ótica",
    "Imobiliária", "Metalúrgica",
)  # fmt: skip
COMPANY_SUFFIXES = ("Ltda", "ME", "& Filhos Ltda", "S.A.")


@dataclass(frozen=True)
class SourceRow:
    """One invoice of the source portfolio, in the source's own (unshifted) dates."""

    customer_id: str
    invoice_number: str
    issue_date: date
    due_date: date
    settled_date: date
    amount: Decimal
    disputed: bool

    @property
    def days_late(self) -> int:
        return max(0, (self.settled_date - self.due_date).days)


def source_csv_path() -> Path:
    return Path(settings.SHARED_DIR) / "data" / SOURCE_CSV_NAME


def _us_date(value: str) -> date:
    return datetime.strptime(value.strip(), "%m/%d/%Y").date()


def read_source_csv(path: Path) -> list[SourceRow]:
    with open(path, newline="", encoding="utf-8") as fh:
        return [
            SourceRow(
                customer_id=row["customerID"].strip(),
                invoice_number=row["invoiceNumber"].strip(),
                issue_date=_us_date(row["InvoiceDate"]),
                due_date=_us_date(row["DueDate"]),
                settled_date=_us_date(row["SettledDate"]),
                amount=Decimal(row["InvoiceAmount"].strip()),
                disputed=row["Disputed"].strip().lower() == "yes",
            )
            for row in csv.DictReader(fh)
        ]


def synthetic_rows(rng: random.Random) -> list[SourceRow]:
    """A portfolio shaped like the IBM sample: 100 customers billed about monthly for two
    years on 30-day terms, each customer on-time, sometimes late or chronically late."""
    start = date(2024, 1, 1)
    end = start + timedelta(days=730)
    profiles = {"on_time": 0.05, "sometimes_late": 0.35, "chronic": 0.8}
    customer_ids: set[str] = set()
    numbers: set[str] = set()
    rows: list[SourceRow] = []
    while len(customer_ids) < 100:
        suffix = "".join(rng.choices(string.ascii_uppercase, k=5))
        customer_id = f"{rng.randrange(10000):04d}-{suffix}"
        if customer_id in customer_ids:
            continue
        customer_ids.add(customer_id)
        profile = rng.choices(list(profiles), weights=(50, 35, 15))[0]
        base_amount = rng.uniform(30, 110)
        issue = start + timedelta(days=rng.randrange(30))
        while issue <= end:
            due = issue + timedelta(days=30)
            late = rng.random() < profiles[profile]
            if late:
                settled = due + timedelta(days=min(45, 1 + int(rng.expovariate(1 / 9))))
            else:
                settled = issue + timedelta(days=rng.randint(3, 30))
            number = f"{rng.randrange(10**5, 10**10):010d}"
            if number in numbers:
                continue
            numbers.add(number)
            rows.append(
                SourceRow(
                    customer_id=customer_id,
                    invoice_number=number,
                    issue_date=issue,
                    due_date=due,
                    settled_date=settled,
                    amount=quantize(base_amount * rng.uniform(0.85, 1.15)),
                    disputed=rng.random() < (0.45 if late else 0.15),
                )
            )
            issue += timedelta(days=rng.randint(26, 34))
    return rows


def _late_tail_customers(rows: list[SourceRow]) -> set[str]:
    """The LATE_TAIL_CUSTOMERS worst payers: highest share of late invoices, then most days."""
    stats: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # invoices, late, days late
    for row in rows:
        entry = stats[row.customer_id]
        entry[0] += 1
        entry[1] += row.days_late > 0
        entry[2] += row.days_late
    ranked = sorted(stats, key=lambda c: (-stats[c][1] / stats[c][0], -stats[c][2], c))
    return set(ranked[:LATE_TAIL_CUSTOMERS])


# --- customers -----------------------------------------------------------------------------


def _cpf(rng: random.Random) -> str:
    while True:
        base = "".join(rng.choices(string.digits, k=9))
        if len(set(base)) > 1:
            return base + _cpf_check(base)


def _cnpj(rng: random.Random, *, alphanumeric: bool) -> str:
    # Root (8) + branch "0001" + check digits; since July 2026 new roots may hold letters.
    alphabet = string.digits + string.ascii_uppercase if alphanumeric else string.digits
    while True:
        base = "".join(rng.choices(alphabet, k=8)) + "0001"
        if not alphanumeric or any(c.isalpha() for c in base):
            return base + _cnpj_check(base)


def _mobile(rng: random.Random, taken: set[str]) -> str:
    while True:
        number = f"+55119{rng.randrange(10**8):08d}"
        if number not in taken and phonenumbers.is_valid_number(phonenumbers.parse(number)):
            taken.add(number)
            return number


def _customer_items(customer_ids: list[str], rng: random.Random) -> list[dict]:
    names: set[str] = set()
    phones: set[str] = set()
    items = []
    for customer_id in customer_ids:
        is_company = rng.random() < CNPJ_SHARE
        while True:
            if is_company:
                name = (
                    f"{rng.choice(COMPANY_KINDS)} {rng.choice(LAST_NAMES)} "
                    f"{rng.choice(COMPANY_SUFFIXES)}"
                )
            else:
                first = rng.choice(FIRST_NAMES)
                last1, last2 = rng.sample(LAST_NAMES, 2)
                name = f"{first} {last1} {last2}"
            if name not in names:
                names.add(name)
                break
        document = _cnpj(rng, alphanumeric=rng.random() < 0.1) if is_company else _cpf(rng)
        has_phone = rng.random() >= 0.07
        items.append(
            {
                "external_id": customer_id,
                "name": name,
                "document": document,
                "email": f"{slugify(name)}@exemplo.com.br",
                "phone": _mobile(rng, phones) if has_phone else "",
                "opted_out_channels": ["sms"] if has_phone and rng.random() < 0.06 else [],
            }
        )
    return items


# --- the command ---------------------------------------------------------------------------


def _local(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz)


def _past(moment: datetime) -> datetime:
    """Nothing is recorded as happening later than the real clock (the seed may run at 3 a.m.
    for a "today" whose 10 o'clock has not come yet)."""
    return min(moment, timezone.now())


def _max_id(model) -> int:
    return model.objects.aggregate(m=Max("id"))["m"] or 0


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
                tenant = self._create_tenant(slug)
                with scope(tenant=tenant):
                    summary = self._seed(tenant, rows, today)
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

    def _create_tenant(self, slug: str) -> Tenant:
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

    def _seed(self, tenant: Tenant, rows: list[SourceRow], today: date) -> dict:
        tz = ZoneInfo(tenant.timezone)
        shift = today + timedelta(days=DUE_AHEAD_DAYS) - max(r.due_date for r in rows)
        late_tail = _late_tail_customers(rows)
        tail_from = today - timedelta(days=LATE_TAIL_DAYS)

        def is_paid(row: SourceRow) -> bool:
            settled, due = row.settled_date + shift, row.due_date + shift
            if row.customer_id in late_tail and row.days_late and tail_from <= due < today:
                return False
            return settled <= today

        customer_ids = sorted({r.customer_id for r in rows})
        self._step(f"{len(customer_ids)} customers and {len(rows)} invoices")
        customers = {
            c.external_id: c
            for c, _created in customers_upsert(
                tenant=tenant,
                items=_customer_items(customer_ids, random.Random(SYNTHETIC_SEED)),
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
        self._step(f"{len(earlier)} payments of the earlier history")
        payments_import(tenant=tenant, items=earlier)

        self._step(f"Replaying {HISTORY_DAYS} days of reminders and payments")
        sent = self._replay_engine(tenant, today, tz, payments_on)
        self._step("Calls, promises and tasks of the finance team")
        agent = User.objects.get(email=AGENT_EMAIL)
        self._human_work(tenant, today, tz, agent)

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
        self,
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

    def _human_work(self, tenant: Tenant, today: date, tz: ZoneInfo, agent: User) -> None:
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
                "Cliente aceita parcelar em até 3 vezes; montar a proposta com as faturas em "
                "aberto.",
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
                "Cliente pediu a segunda via do boleto por e-mail; enviada pela página de "
                "pagamento",
                at(3, 11, 5),
            )
        if disputed is not None:
            log(
                disputed,
                InteractionKind.NOTE,
                "Cliente contesta o valor: alega cobrança em duplicidade; aguardando comprovante",
                at(1, 16, 10),
            )
