"""Importing invoices from a spreadsheet: CSV (any common delimiter and encoding) or XLSX.

The file's columns are mapped to Régua's fields (`guess_mapping` proposes a mapping from the
headers, in Portuguese or English, camelCase or not; the user confirms or changes it; one
column may feed several fields). Each date and amount column is read the way the whole column
is written (`column_formats`): an ambiguous date column is refused until its format is chosen.
Every row is checked before anything is written: CPF/CNPJ check digits (the alphanumeric CNPJ
included), phones to E.164, e-mails, dates, amounts. Then either nothing is written if any row
has an error (`all_or_nothing`, the default), or only the valid rows are (`valid_only`, chosen
explicitly) — never a silent partial write. The valid rows go in through the same service as
the API (`invoices_upsert`: by external id, customers inline), in chunks of CHUNK rows, with a
progress callback after each chunk; a paid date records the payment, as history
(`import_payments`).

On PostgreSQL the chunks are written inside one transaction: a failure anywhere writes
nothing. On SQLite (the embedded mode: one writer at a time for the whole database) one
transaction would hold the write lock for the whole import, and the dashboard, the API and the
worker would wait for it (or fail after their busy timeout): there each chunk is its own
transaction, followed by a short pause in which the other writers get the lock. Every row is
still checked before the first chunk is written, so bad input writes nothing; what a crash (or
a failure) in the middle leaves is a known prefix of the file, kept by the `checkpoint`
callback in each chunk's own transaction: the run that resumes passes `resume_after`, skips the
rows already written and finishes the file, so nothing is written twice and nothing is left
half-written once it has run again."""

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date

from django.db import connection, transaction
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
# SQLite: after each chunk's commit, the write lock is left free this long (seconds), longer
# than SQLite's longest wait between two tries for a busy lock (100 ms), so a writer waiting
# for it (a payment recorded on the dashboard, the worker's messages) gets it.
SQLITE_PAUSE = 0.15


def chunks_commit_separately() -> bool:
    """Whether each chunk is its own transaction: on SQLite, whose write lock is the whole
    database's (see the module's docstring)."""
    return connection.vendor == "sqlite"


@dataclass
class ChunkWritten:
    """What one chunk wrote, told to the `checkpoint` inside the chunk's transaction:
    `through_row` the file row number of its last row (the row to resume after)."""

    through_row: int
    created: int
    updated: int
    payments: int
    days: set[date] = field(default_factory=set)


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
    resume_after: int = 0,
    resume_days: set[date] | frozenset[date] = frozenset(),
    checkpoint: Callable[[ChunkWritten], None] | None = None,
) -> ImportResult:
    """Check every row, then write (see the module's docstring). `profiles` are the columns'
    `column_profile`s (read from `rows` when not given). `progress(done, total)` is called
    as the work goes: each row counts once when checked and once when written. The invoices
    written are marked with `import_job_id`.

    `checkpoint(chunk)` is called inside each chunk's transaction. `resume_after` (a file row
    number) resumes an import whose rows up to that one were written (a run cut short after
    some chunks committed): those rows are not written again, the write is not refused any
    more for the errors found, and `resume_days` are the rollup days the written chunks
    touched. The counts returned are this run's."""
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
    pending = [(row, item) for row, item in valid if row > resume_after]
    state_errors = _state_errors(pending)
    if state_errors:
        result.errors = sorted(result.errors + state_errors, key=lambda e: e.row)
        refused = {e.row for e in state_errors}
        pending = [(row, item) for row, item in pending if row not in refused]
    if result.errors and not valid_only and not resume_after:
        return result
    skipped = result.total - len(pending)
    days: set[date] = set(resume_days)
    separately = chunks_commit_separately()
    whole = nullcontext() if separately else transaction.atomic()
    with whole:
        for start in range(0, len(pending), CHUNK):
            if separately and start:
                time.sleep(SQLITE_PAUSE)  # the write lock is free: let the others write
            chunk = pending[start : start + CHUNK]
            with transaction.atomic():
                written = _chunk_write(
                    tenant=tenant, chunk=chunk, import_job_id=import_job_id, checkpoint=checkpoint
                )
            result.payments += written.payments
            result.created += written.created
            result.updated += written.updated
            days |= written.days
            if progress:
                progress(result.total + skipped + start + len(chunk), 2 * result.total)
        with transaction.atomic():
            stats_refresh(tenant_id=tenant.pk, days=days)
    result.imported = len(pending)
    result.written = True
    return result


def _chunk_write(
    *,
    tenant: Tenant,
    chunk: list[tuple[int, dict]],
    import_job_id: int | None,
    checkpoint: Callable[[ChunkWritten], None] | None,
) -> ChunkWritten:
    """Write one chunk (in the caller's transaction): its invoices, the payments of its paid
    dates and its paying customers' behaviour classes; then the checkpoint."""
    items = [item for _row, item in chunk]
    before = Invoice.objects.filter(external_id__in=[item["external_id"] for item in items])
    days = invoice_days(before.only("effective_due_date", "paid_on", "issue_date"))
    written = invoices_upsert(
        tenant=tenant, items=items, refresh_stats=False, import_job_id=import_job_id
    )
    history = [
        (invoice, item["paid_date"], item.get("paid_amount"))
        for (invoice, _created), item in zip(written, items, strict=True)
        if item.get("paid_date")
    ]
    payments = payments_import(tenant=tenant, items=history, classify=False)
    if payments:
        # Behaviour classes change when invoices are paid: once per chunk, for its customers.
        customers_classify(
            tenant=tenant, customer_ids={invoice.customer_id for invoice, _d, _a in history}
        )
    days |= invoice_days(invoice for invoice, _created in written)
    done = ChunkWritten(
        through_row=chunk[-1][0],
        created=sum(1 for _inv, created in written if created),
        updated=sum(1 for _inv, created in written if not created),
        payments=payments,
        days=days,
    )
    if checkpoint:
        checkpoint(done)
    return done
