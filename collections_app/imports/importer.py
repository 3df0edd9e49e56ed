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

from collections.abc import Callable
from datetime import date

from django.db import transaction
from django.utils.translation import gettext as _

from collections_app.imports.column_formats import AUTO, columns_profile
from collections_app.imports.mapping import guess_mapping, mapping_problems
from collections_app.imports.payments import payments_import
from collections_app.imports.reports import ImportResult, RowError, errors_csv, first_errors
from collections_app.imports.rows import parse_amount, parse_day, read_rules, row_check
from collections_app.imports.spreadsheets import ImportFileError, read_table
from collections_app.imports.template import template_csv
from collections_app.invoices.segments import customers_classify
from collections_app.invoices.services import invoices_upsert
from collections_app.models import Invoice, InvoiceStatus
from collections_app.stats.rollups import invoice_days, stats_refresh
from tenants.models import Tenant
from tenants.selectors import tenant_today

# Imported from here by the pages, the command, the benchmark and the tests.
__all__ = [
    "ImportFileError",
    "ImportResult",
    "RowError",
    "errors_csv",
    "first_errors",
    "guess_mapping",
    "invoices_import",
    "mapping_problems",
    "parse_amount",
    "parse_day",
    "read_rules",
    "read_table",
    "row_check",
    "template_csv",
]

CHUNK = 1000


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
