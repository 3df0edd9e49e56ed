"""Importing invoices from a spreadsheet: CSV (any delimiter, UTF-8 or Latin-1) or XLSX.

The file's columns are mapped to Régua's fields (`guess_mapping` proposes a mapping from the
headers; the user confirms or changes it). Every row is checked before anything is written:
CPF/CNPJ check digits (the alphanumeric CNPJ included), phones to E.164, e-mails, dates as
dd/mm/aaaa or ISO, amounts with a decimal comma or point. Then either nothing is written if any
row has an error (`all_or_nothing`, the default), or only the valid rows are (`valid_only`,
chosen explicitly) — never a silent partial write. The valid rows go in through the same
service as the API (`invoices_upsert`: by external id, customers inline), in chunks inside one
transaction, with a progress callback after each chunk."""

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tenants.models import Tenant

from .documents import document_normalize
from .models import Invoice
from .services import invoices_upsert
from .spreadsheets import row_safe
from .stats import invoice_days, stats_refresh

CHUNK = 1000
MAX_ROWS = 500_000

# Régua's fields: name → (label, required).
FIELDS: dict[str, tuple[str, bool]] = {
    "external_id": (gettext_lazy("Invoice id in your system"), True),
    "number": (gettext_lazy("Invoice number"), False),
    "amount": (gettext_lazy("Amount"), True),
    "issue_date": (gettext_lazy("Issue date"), True),
    "due_date": (gettext_lazy("Due date"), True),
    "description": (gettext_lazy("Description"), False),
    "boleto_line": (gettext_lazy("Boleto line"), False),
    "bank_reference": (gettext_lazy("Nosso número"), False),
    "customer_external_id": (gettext_lazy("Customer id in your system"), True),
    "customer_name": (gettext_lazy("Customer name"), True),
    "customer_document": (gettext_lazy("CPF/CNPJ"), False),
    "customer_email": (gettext_lazy("E-mail"), False),
    "customer_phone": (gettext_lazy("Phone"), False),
    "customer_whatsapp": (gettext_lazy("WhatsApp"), False),
}
# Header words (without accents, lower case) that usually name each field.
ALIASES: dict[str, tuple[str, ...]] = {
    "external_id": (
        "id",
        "id fatura",
        "codigo",
        "codigo fatura",
        "external id",
        "documento fiscal",
    ),
    "number": ("numero", "nf", "nota", "nota fiscal", "fatura", "invoice", "number"),
    "amount": ("valor", "valor original", "amount", "total"),
    "issue_date": ("emissao", "data emissao", "data de emissao", "issue date"),
    "due_date": ("vencimento", "data vencimento", "data de vencimento", "due date", "due"),
    "description": ("descricao", "historico", "description"),
    "boleto_line": ("linha digitavel", "boleto"),
    "bank_reference": ("nosso numero",),
    "customer_external_id": ("codigo cliente", "id cliente", "cliente id", "customer id"),
    "customer_name": ("cliente", "nome", "nome cliente", "razao social", "customer", "name"),
    "customer_document": ("cpf", "cnpj", "cpf/cnpj", "cpf cnpj", "documento", "document"),
    "customer_email": ("email", "e-mail"),
    "customer_phone": ("telefone", "celular", "fone", "phone"),
    "customer_whatsapp": ("whatsapp",),
}


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
    ],
    [
        "FAT-0001",
        "NF 1234",
        "1.234,50",
        "01/11/2026",
        "01/12/2026",
        "Mensalidade de novembro",
        "",
        "00012345",
        "CLI-001",
        "Maria Souza",
        "529.982.247-25",
        "maria@exemplo.com.br",
        "(11) 98765-4321",
        "(11) 98765-4321",
    ],
]


def template_csv() -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows(TEMPLATE_ROWS)
    return out.getvalue()


class ImportFileError(ValueError):
    """A file that cannot be read as a table, with the reason."""


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
    errors: list[RowError] = field(default_factory=list)
    written: bool = False

    @property
    def rows_with_errors(self) -> int:
        return len({e.row for e in self.errors})


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[\s_]+", " ", text).strip().lower()


def read_table(filename: str, content: bytes) -> tuple[list[str], list[list[str]]]:
    """The header and the rows (as text) of a CSV or XLSX file."""
    if filename.lower().endswith(".xlsx") or content[:4] == b"PK\x03\x04":
        return _read_xlsx(content)
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if not text.strip():
        raise ImportFileError(_("The file is empty."))
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=";,\t|")
    except csv.Error:
        dialect = csv.excel
    rows = [row for row in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in row)]
    if len(rows) > MAX_ROWS + 1:
        raise ImportFileError(_("At most %(n)s rows per file.") % {"n": MAX_ROWS})
    return [h.strip() for h in rows[0]], rows[1:]


def _read_xlsx(content: bytes) -> tuple[list[str], list[list[str]]]:
    from openpyxl import load_workbook

    try:
        sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).active
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise ImportFileError(_("This is not a readable XLSX file.")) from exc
    rows = []
    for values in sheet.iter_rows(values_only=True):
        cells = [
            "" if v is None else (v.isoformat()[:10] if isinstance(v, date) else str(v))
            for v in values
        ]
        if any(c.strip() for c in cells):
            rows.append(cells)
    if not rows:
        raise ImportFileError(_("The file is empty."))
    return [h.strip() for h in rows[0]], rows[1:]


def guess_mapping(headers: list[str]) -> dict[str, int]:
    """Régua's field → the column it is probably in, from the headers' words."""
    mapping: dict[str, int] = {}
    plain = [_plain(h) for h in headers]
    for name, aliases in ALIASES.items():
        for index, header in enumerate(plain):
            if index not in mapping.values() and (
                header == name.replace("_", " ") or header in aliases
            ):
                mapping[name] = index
                break
    return mapping


def parse_amount(raw: str) -> Decimal:
    text = raw.strip().replace("R$", "").replace(" ", "")
    if re.fullmatch(r"-?\d{1,3}(\.\d{3})*(,\d{1,2})?", text) or re.fullmatch(
        r"-?\d+,\d{1,2}", text
    ):
        text = text.replace(".", "").replace(",", ".")  # 1.234,50 → 1234.50
    elif re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d{1,2})?", text):
        text = text.replace(",", "")  # 1,234.50 → 1234.50
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(
            _("“%(raw)s” is not an amount (use 1.234,50 or 1234.50).") % {"raw": raw}
        ) from None
    if value <= 0 or value.as_tuple().exponent < -2:
        raise ValueError(_("The amount must be positive, with at most two decimals."))
    return value


def parse_day(raw: str) -> date:
    text = raw.strip()
    match = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
    try:
        if match:
            return date(int(match[3]), int(match[2]), int(match[1]))
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text[:10]):
            return date.fromisoformat(text[:10])
    except ValueError:
        pass
    raise ValueError(_("“%(raw)s” is not a date (use dd/mm/aaaa or aaaa-mm-dd).") % {"raw": raw})


def parse_phone(raw: str) -> str:
    try:
        number = phonenumbers.parse(raw, "BR")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValueError(_("“%(raw)s” is not a valid phone number.") % {"raw": raw})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _zeros_restored(raw: str) -> str:
    """A CPF or CNPJ that a spreadsheet kept as a number lost its leading zeros
    (012.345.678-90 → 1234567890): put them back; the check digits still decide."""
    if raw.isdigit() and len(raw) in (9, 10, 12, 13):
        return raw.zfill(11 if len(raw) < 11 else 14)
    return raw


def row_check(cells: list[str], mapping: dict[str, int]) -> tuple[dict, list[tuple[str, str]]]:
    """One row as an item for `invoices_upsert`, and its errors as (field, message)."""

    def cell(name: str) -> str:
        index = mapping.get(name)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    errors: list[tuple[str, str]] = []
    item: dict = {}
    customer: dict = {}
    for name, (_label, required) in FIELDS.items():
        raw = cell(name)
        if not raw:
            if required:
                errors.append((name, _("Required.")))
            continue
        try:
            if name == "amount":
                item[name] = parse_amount(raw)
            elif name in ("issue_date", "due_date"):
                item[name] = parse_day(raw)
            elif name == "customer_document":
                customer["document"] = document_normalize(_zeros_restored(raw))
            elif name in ("customer_phone", "customer_whatsapp"):
                customer[name.removeprefix("customer_")] = parse_phone(raw)
            elif name == "customer_email":
                validate_email(raw)
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
    item["customer"] = customer
    return item, errors


def mapping_problems(mapping: dict[str, int]) -> list[str]:
    """What keeps a mapping from being used: required fields left out, a column used twice."""
    problems = []
    missing = [str(label) for n, (label, req) in FIELDS.items() if req and n not in mapping]
    if missing:
        problems.append(
            _("Choose a column for each required field: %(fields)s.")
            % {"fields": ", ".join(missing)}
        )
    used = list(mapping.values())
    if len(used) != len(set(used)):
        problems.append(_("Each column can go to only one field."))
    return problems


def invoices_import(
    *,
    tenant: Tenant,
    headers: list[str],
    rows: list[list[str]],
    mapping: dict[str, int],
    valid_only: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Check every row, then write (see the module's docstring). `progress(done, total)` is
    called as the work goes: each row counts once when checked and once when written."""
    problems = mapping_problems(mapping)
    if problems:
        raise ImportFileError(" ".join(problems))
    result = ImportResult(total=len(rows))
    valid: list[dict] = []
    seen: dict[str, int] = {}
    step = max(1, min(CHUNK, len(rows) // 50))  # about 50 updates while checking
    for number, cells in enumerate(rows, 2):
        item, errors = row_check(cells, mapping)
        ext = item.get("external_id")
        if ext and ext in seen:
            errors.append(("external_id", _("Repeats row %(row)s.") % {"row": seen[ext]}))
        elif ext:
            seen[ext] = number
        result.errors += [RowError(number, name, message) for name, message in errors]
        if not errors:
            valid.append(item)
        if progress and (number - 1) % step == 0:
            progress(number - 1, 2 * result.total)
    if result.errors and not valid_only:
        return result
    skipped = result.total - len(valid)
    days: set[date] = set()
    with transaction.atomic():
        before = Invoice.objects.filter(external_id__in=[item["external_id"] for item in valid])
        days |= invoice_days(before.only("effective_due_date", "paid_on", "issue_date"))
        for start in range(0, len(valid), CHUNK):
            written = invoices_upsert(
                tenant=tenant, items=valid[start : start + CHUNK], refresh_stats=False
            )
            days |= invoice_days(invoice for invoice, _created in written)
            result.created += sum(1 for _inv, created in written if created)
            result.updated += sum(1 for _inv, created in written if not created)
            if progress:
                progress(result.total + skipped + start + len(written), 2 * result.total)
        stats_refresh(tenant_id=tenant.pk, days=days)
    result.imported = len(valid)
    result.written = True
    return result


def errors_csv(result: ImportResult, headers: list[str], rows: list[list[str]]) -> Iterator[str]:
    """The error report: each failing row as it was, with its errors in a last column."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    by_row: dict[int, list[str]] = {}
    for error in result.errors:
        by_row.setdefault(error.row, []).append(f"{FIELDS[error.field][0]}: {error.message}")
    writer.writerow(["linha", *headers, "erros"])
    for row_number in sorted(by_row):
        cells = [row_number, *rows[row_number - 2], " | ".join(by_row[row_number])]
        writer.writerow(row_safe(cells))
    yield out.getvalue()
