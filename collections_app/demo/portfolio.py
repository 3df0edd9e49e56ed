"""The demo's portfolio: the IBM accounts-receivable sample read in place, or a synthetic
portfolio of the same shape from a fixed seed, and its made-up customers (valid CPF, CNPJ and
mobile numbers)."""

import csv
import random
import string
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import phonenumbers
from django.conf import settings
from django.utils.text import slugify

from collections_app.documents import cnpj_check_digits, cpf_check_digits
from collections_app.money import quantize

SOURCE_CSV_NAME = "accounts_receivable_ibm.csv"
SYNTHETIC_SEED = 42
# The latest due date lands this many days after today, so pre-due reminders have work.
DUE_AHEAD_DAYS = 35
# The sample's amounts are small dollars (5–130); ×10 gives plausible monthly school fees.
AMOUNT_FACTOR = Decimal(10)
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


def late_tail_customers(rows: list[SourceRow]) -> set[str]:
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
            return base + cpf_check_digits(base)


def _cnpj(rng: random.Random, *, alphanumeric: bool) -> str:
    # Root (8) + branch "0001" + check digits; since July 2026 new roots may hold letters.
    alphabet = string.digits + string.ascii_uppercase if alphanumeric else string.digits
    while True:
        base = "".join(rng.choices(alphabet, k=8)) + "0001"
        if not alphanumeric or any(c.isalpha() for c in base):
            return base + cnpj_check_digits(base)


def _mobile(rng: random.Random, taken: set[str]) -> str:
    while True:
        number = f"+55119{rng.randrange(10**8):08d}"
        if number not in taken and phonenumbers.is_valid_number(phonenumbers.parse(number)):
            taken.add(number)
            return number


def customer_items(customer_ids: list[str], rng: random.Random) -> list[dict]:
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
