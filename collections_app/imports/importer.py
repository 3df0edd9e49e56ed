"""Importing invoices from a spreadsheet: CSV (any common delimiter and encoding) or XLSX.

The file's columns are mapped to Régua's fields (`guess_mapping` proposes a mapping from the
headers, in Portuguese or English, camelCase or not; the user confirms or changes it; one
column may feed several fields). Each date and amount column is read the way the whole column
is written (`column_formats`): an ambiguous date column is refused until its format is chosen.
Every row is checked before anything is written: CPF/CNPJ check digits (the alphanumeric CNPJ
included), phones to E.164, e-mails, dates, amounts. Then either nothing is written if any row
has an error (`all_or_nothing`, the default), or only the valid rows are (`valid_only`, chosen
explicitly) — never a silent partial write. The valid rows go in through the same service as
the API (`invoices_upsert`: by external id, customers inline), in chunks inside one
transaction, with a progress callback after each chunk; a paid date records the payment, as
history (`import_payments`)."""

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from collections_app.documents import document_normalize
from collections_app.imports.column_formats import (
    AUTO,
    DATE_FORMATS,
    DEFAULT_TIMEZONE,
    DMY,
    NUMBER_EXAMPLES,
    PT_BR,
    DateOrderError,
    column_order,
    columns_profile,
    number_locale,
    read_date,
    read_flag,
    read_number,
)
from collections_app.imports.mapping import (
    ALIASES,
    AMOUNT_FIELDS,
    DATE_FIELDS,
    FIELDS,
    KINDS,
    _plain,
    date_columns,
    guess_mapping,
    mapping_problems,
)
from collections_app.imports.payments import payments_import
from collections_app.imports.spreadsheets import (
    MAX_ROWS,
    ImportFileError,
    Number,
    read_table,
    row_safe,
)
from collections_app.invoices.segments import customers_classify
from collections_app.invoices.services import invoices_upsert
from collections_app.models import Invoice, InvoiceStatus
from collections_app.stats.rollups import invoice_days, stats_refresh
from tenants.models import Tenant
from tenants.selectors import tenant_today

# Imported from here by the pages, the command and the benchmark.
__all__ = [
    "ALIASES",
    "FIELDS",
    "KINDS",
    "MAX_ROWS",
    "ImportFileError",
    "_plain",
    "date_columns",
    "guess_mapping",
    "mapping_problems",
    "read_table",
]

CHUNK = 1000
FIRST_ERRORS = 20  # kept with the job for its page; the CSV report has them all

# A model spreadsheet for the upload page: headers the mapping recognises, and one example row.
TEMPLATE_ROWS = [
    [
        "Código",
        "Número",
        "Valor",
        "Emissão",
        "Vencimento",
        "Descrição",
        "Linha digitável",
        "Nosso número",
        "Código cliente",
        "Cliente",
        "CPF/CNPJ",
        "E-mail",
        "Celular",
        "WhatsApp",
        "Data de pagamento",
        "Valor pago",
        "Contestada",
    ],
    [
        "FAT-0001",
        "NF 1234",
        "1.234,50",
        "15/11/2026",
        "15/12/2026",
        "Mensalidade de novembro",
        "",
        "00012345",
        "CLI-001",
        "Maria Souza",
        "529.982.247-25",
        "maria@exemplo.com.br",
        "(11) 98765-4321",
        "(11) 98765-4321",
        "",
        "",
        "não",
    ],
]


def template_csv() -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows(TEMPLATE_ROWS)
    return out.getvalue()


@dataclass
class RowError:
    row: int  # the spreadsheet's row number (the header is row 1)
    field: str
    message: str


@dataclass
class ImportResult:
    total: int = 0
    imported: int = 0
    created: int = 0
    updated: int = 0
    payments: int = 0
    errors: list[RowError] = field(default_factory=list)
    written: bool = False

    @property
    def rows_with_errors(self) -> int:
        return len({e.row for e in self.errors})


@dataclass
class ReadRules:
    """How a mapping's columns are read: each date field's order (None: not chosen yet), each
    amount field's number symbols, the tenant's today (no payment in the future) and its
    timezone (a timestamp with an offset is dated where the tenant is)."""

    dates: dict[str, str | None] = field(default_factory=dict)
    numbers: dict[str, str] = field(default_factory=dict)
    today: date | None = None
    timezone: str = DEFAULT_TIMEZONE


def read_rules(
    mapping: dict[str, int],
    *,
    profiles: list[dict] | None,
    date_format: str = AUTO,
    today: date | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> ReadRules:
    def profile(name: str) -> dict:
        index = mapping.get(name)
        return profiles[index] if profiles and index is not None and index < len(profiles) else {}

    return ReadRules(
        dates={name: column_order(profile(name), date_format) for name in DATE_FIELDS},
        numbers={name: number_locale(profile(name)) for name in AMOUNT_FIELDS},
        today=today,
        timezone=timezone,
    )


def parse_amount(raw: str, locale: str = PT_BR) -> Decimal:
    """An amount written with the column's number symbols (`locale`), or an XLSX number cell
    (a `Number`: exact, whatever the column's text looks like). More than two decimals is an
    error, never rounded."""
    if isinstance(raw, Number):
        value = raw.value
    else:
        try:
            value = read_number(raw, locale)
        except ValueError:
            raise ValueError(
                _("“%(raw)s” is not an amount written like this column's (%(example)s).")
                % {"raw": raw, "example": NUMBER_EXAMPLES[locale]}
            ) from None
    if value <= 0:
        raise ValueError(_("The amount must be positive, with at most two decimals."))
    if value.as_tuple().exponent < -2:
        raise ValueError(
            _("“%(raw)s” has more than two decimals: an amount is in reais and centavos.")
            % {"raw": raw}
        )
    return value


def parse_day(raw: str, order: str | None = DMY, timezone: str = DEFAULT_TIMEZONE) -> date:
    """A date in the column's order (None: the column's format is not chosen yet)."""
    if order is None:
        raise ValueError(_("Day or month first? Choose the date format."))
    try:
        return read_date(raw.strip(), order, timezone)
    except DateOrderError:
        raise ValueError(
            _("“%(raw)s” is not a date in this column's format (%(format)s).")
            % {"raw": raw, "format": DATE_FORMATS[order]}
        ) from None
    except ValueError:
        raise ValueError(_("“%(raw)s” is not a date.") % {"raw": raw}) from None


# A customer's phone, document and e-mail repeat on each of their invoices: the checks are pure
# functions of the text, memoised (a failing value raises again, in the active language).
@lru_cache(maxsize=16_384)
def _e164(raw: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, "BR")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_phone(raw: str) -> str:
    number = _e164(raw)
    if number is None:
        raise ValueError(_("“%(raw)s” is not a valid phone number.") % {"raw": raw})
    return number


@lru_cache(maxsize=16_384)
def _document(raw: str) -> str:
    return document_normalize(_zeros_restored(raw))


@lru_cache(maxsize=16_384)
def _email_valid(raw: str) -> bool:
    try:
        validate_email(raw)
    except ValidationError:
        return False
    return True


def parse_flag(raw: str) -> tuple[bool | None, bool]:
    try:
        return read_flag(raw)
    except ValueError:
        raise ValueError(
            _("“%(raw)s” is not yes or no (use sim/não, yes/no, true/false or 1/0).") % {"raw": raw}
        ) from None


def _zeros_restored(raw: str) -> str:
    """A CPF or CNPJ that a spreadsheet kept as a number lost its leading zeros
    (012.345.678-90 → 1234567890): put them back; the check digits still decide."""
    if raw.isdigit() and len(raw) in (9, 10, 12, 13):
        return raw.zfill(11 if len(raw) < 11 else 14)
    return raw


DEFAULT_RULES = ReadRules()


def row_check(
    cells: list[str], mapping: dict[str, int], rules: ReadRules = DEFAULT_RULES
) -> tuple[dict, list[tuple[str, str]]]:
    """One row as an item for `invoices_upsert` (with `paid_date` and `paid_amount` when
    given, for the payment), and its errors as (field, message)."""

    errors: list[tuple[str, str]] = []
    item: dict = {}
    customer: dict = {}
    says_paid = False
    width = len(cells)
    for name, (_label, required) in FIELDS.items():
        index = mapping.get(name)
        cell = cells[index] if index is not None and index < width else ""
        raw = cell if isinstance(cell, Number) else cell.strip()
        if not raw:
            if required:
                errors.append((name, _("Required.")))
            continue
        try:
            if name in AMOUNT_FIELDS:
                item[name] = parse_amount(raw, rules.numbers.get(name, PT_BR))
            elif name in DATE_FIELDS:
                item[name] = parse_day(raw, rules.dates.get(name, DMY), rules.timezone)
            elif name == "disputed":
                disputed, says_paid = parse_flag(raw)
                if disputed is not None:  # a status word leaves a dispute as it is
                    item["disputed"] = disputed
            elif name == "customer_document":
                customer["document"] = _document(raw)
            elif name in ("customer_phone", "customer_whatsapp"):
                customer[name.removeprefix("customer_")] = parse_phone(raw)
            elif name == "customer_email":
                if not _email_valid(raw):
                    raise ValidationError("invalid")
                customer["email"] = raw.lower()
            elif name.startswith("customer_"):
                customer[name.removeprefix("customer_")] = raw[:200]
            else:
                item[name] = raw[:300]
        except ValidationError:
            errors.append((name, _("“%(raw)s” is not an e-mail address.") % {"raw": raw}))
        except ValueError as exc:
            errors.append((name, str(exc)))
    if "issue_date" in item and "due_date" in item and item["due_date"] < item["issue_date"]:
        errors.append(("due_date", _("The due date is before the issue date.")))
    errors += _history_errors(item, says_paid=says_paid, today=rules.today)
    item["customer"] = customer
    return item, errors


def _history_errors(item: dict, *, says_paid: bool, today: date | None) -> list[tuple[str, str]]:
    errors = []
    paid_date, paid_amount = item.get("paid_date"), item.get("paid_amount")
    if paid_date and today and paid_date > today:
        errors.append(("paid_date", _("The paid date is in the future.")))
    if paid_amount is not None and not paid_date:
        errors.append(("paid_amount", _("A paid amount needs the paid date.")))
    if paid_amount is not None and "amount" in item and paid_amount > item["amount"]:
        errors.append(("paid_amount", _("More than the invoice's amount.")))
    if says_paid and not paid_date:
        errors.append(("disputed", _("Says the invoice was paid: map the paid date column too.")))
    return errors


def _state_errors(valid: list[tuple[int, dict]]) -> list[RowError]:
    """Rows whose payment the invoice on record cannot take (cancelled, written off, in an
    agreement): found with one query per chunk, before anything is written."""
    paying = {item["external_id"]: row for row, item in valid if item.get("paid_date")}
    blocked = [InvoiceStatus.CANCELLED, InvoiceStatus.WRITTEN_OFF, InvoiceStatus.IN_AGREEMENT]
    ext_ids = list(paying)
    errors = []
    for start in range(0, len(ext_ids), CHUNK):
        found = Invoice.objects.filter(
            external_id__in=ext_ids[start : start + CHUNK], status__in=blocked
        ).values_list("external_id", "status")
        for ext, status in found:
            errors.append(
                RowError(
                    paying[ext],
                    "paid_date",
                    _("The invoice is %(status)s: no payment can be recorded.")
                    % {"status": InvoiceStatus(status).label.lower()},
                )
            )
    return errors


def invoices_import(
    *,
    tenant: Tenant,
    headers: list[str],
    rows: list[list[str]],
    mapping: dict[str, int],
    date_format: str = AUTO,
    profiles: list[dict] | None = None,
    valid_only: bool = False,
    progress: Callable[[int, int], None] | None = None,
    import_job_id: int | None = None,
) -> ImportResult:
    """Check every row, then write (see the module's docstring). `profiles` are the columns'
    `column_profile`s (read from `rows` when not given). `progress(done, total)` is called
    as the work goes: each row counts once when checked and once when written. The invoices
    written are marked with `import_job_id`."""
    if profiles is None:
        profiles = columns_profile(rows, len(headers))
    problems = mapping_problems(
        mapping, headers=headers, profiles=profiles, date_format=date_format
    )
    if problems:
        raise ImportFileError(" ".join(problems))
    rules = read_rules(
        mapping,
        profiles=profiles,
        date_format=date_format,
        today=tenant_today(tenant=tenant),
        timezone=tenant.timezone,
    )
    result = ImportResult(total=len(rows))
    valid: list[tuple[int, dict]] = []
    seen: dict[str, int] = {}
    step = max(1, min(CHUNK, len(rows) // 50))  # about 50 updates while checking
    for number, cells in enumerate(rows, 2):
        item, errors = row_check(cells, mapping, rules)
        ext = item.get("external_id")
        if ext and ext in seen:
            errors.append(("external_id", _("Repeats row %(row)s.") % {"row": seen[ext]}))
        elif ext:
            seen[ext] = number
        result.errors += [RowError(number, name, message) for name, message in errors]
        if not errors:
            valid.append((number, item))
        if progress and (number - 1) % step == 0:
            progress(number - 1, 2 * result.total)
    state_errors = _state_errors(valid)
    if state_errors:
        result.errors = sorted(result.errors + state_errors, key=lambda e: e.row)
        refused = {e.row for e in state_errors}
        valid = [(row, item) for row, item in valid if row not in refused]
    if result.errors and not valid_only:
        return result
    items = [item for _row, item in valid]
    skipped = result.total - len(items)
    days: set[date] = set()
    paying: set[int] = set()
    with transaction.atomic():
        before = Invoice.objects.filter(external_id__in=[item["external_id"] for item in items])
        days |= invoice_days(before.only("effective_due_date", "paid_on", "issue_date"))
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            written = invoices_upsert(
                tenant=tenant, items=chunk, refresh_stats=False, import_job_id=import_job_id
            )
            history = [
                (invoice, item["paid_date"], item.get("paid_amount"))
                for (invoice, _created), item in zip(written, chunk, strict=True)
                if item.get("paid_date")
            ]
            result.payments += payments_import(tenant=tenant, items=history, classify=False)
            paying |= {invoice.customer_id for invoice, _day, _amount in history}
            days |= invoice_days(invoice for invoice, _created in written)
            result.created += sum(1 for _inv, created in written if created)
            result.updated += sum(1 for _inv, created in written if not created)
            if progress:
                progress(result.total + skipped + start + len(written), 2 * result.total)
        if result.payments:
            # Behaviour classes change when invoices are paid: once, for the whole file.
            customers_classify(tenant=tenant, customer_ids=paying)
        stats_refresh(tenant_id=tenant.pk, days=days)
    result.imported = len(items)
    result.written = True
    return result


def first_errors(
    result: ImportResult, rows: list[list[str]], mapping: dict[str, int]
) -> list[dict]:
    """The first errors, for the job's page (the CSV report has them all): {"row", "field",
    "value" (the cell as it was), "message"}."""
    out = []
    for error in result.errors[:FIRST_ERRORS]:
        cells, index = rows[error.row - 2], mapping.get(error.field)
        value = cells[index] if index is not None and index < len(cells) else ""
        out.append(
            {"row": error.row, "field": error.field, "value": value[:100], "message": error.message}
        )
    return out


def errors_csv(result: ImportResult, headers: list[str], rows: list[list[str]]) -> Iterator[str]:
    """The error report: each failing row as it was, with its errors in a last column."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    by_row: dict[int, list[str]] = {}
    for error in result.errors:
        by_row.setdefault(error.row, []).append(f"{FIELDS[error.field][0]}: {error.message}")
    writer.writerow(row_safe(["linha", *headers, "erros"]))
    for row_number in sorted(by_row):
        cells = [row_number, *rows[row_number - 2], " | ".join(by_row[row_number])]
        writer.writerow(row_safe(cells))
    yield out.getvalue()
