"""Imports from the dashboard: an uploaded spreadsheet becomes an `ImportJob`; the user maps its
columns (helped by the mapping remembered from earlier files, then by the headers' words) and
starts it; a Celery job checks and writes the rows (`importer.invoices_import`), publishing its
progress to the "progress" cache for the page's live bar, and keeps the error report.

The uploaded file is kept in the file storage (Django's default storage: the local disk under
MEDIA_ROOT, or S3-compatible object storage, so the worker reads it on whichever machine it
runs) until its rows are written or upkeep forgets it. On SQLite the rows are committed chunk
by chunk (see `importer`): each chunk moves the job's checkpoint (`written_through`) in its own
transaction, and a run cut short (a lost worker, a failure) is resumed from there by the next
run — the redelivered task, upkeep's resend, or "finish the import" on the page."""

import logging
import time
from collections.abc import Callable
from datetime import date, timedelta

from django.core.cache import caches
from django.core.files.base import ContentFile
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_scopes import scopes_disabled

from collections_app.enqueue import import_run_later, import_run_now
from collections_app.imports.column_formats import (
    AUTO,
    DATE_FORMATS,
    columns_profile,
    detected_order,
)
from collections_app.imports.importer import ChunkWritten, invoices_import
from collections_app.imports.mapping import DATE_FIELDS, FIELDS, KINDS, _plain, guess_mapping
from collections_app.imports.reports import errors_csv, first_errors
from collections_app.imports.rows import read_rules, row_check
from collections_app.imports.spreadsheets import (
    ImportFileError,
    cells_from_json,
    cells_to_json,
    read_table,
)
from collections_app.models import ImportJob, ImportStatus
from tenants.models import Tenant
from tenants.selectors import tenant_today

logger = logging.getLogger(__name__)

MAX_BYTES = 50 * 1024 * 1024
SAMPLE_ROWS = 5
# A running job whose progress has not moved for this long is taken to have lost its worker:
# a redelivered task may run it again (its transaction was rolled back with the worker).
STALE_SECONDS = 120
PROGRESS_EVERY = 0.5  # seconds between progress publications


def _progress_key(job: ImportJob) -> str:
    return f"import-progress:{job.token}"


def import_progress(job: ImportJob) -> dict | None:
    """The running job's latest progress: {"done", "total", "phase", "at"}, or None."""
    try:
        return caches["progress"].get(_progress_key(job))
    except Exception:  # the progress is a convenience: never fail a page for it
        logger.warning("import progress unavailable", exc_info=True)
        return None


def _progress_publish(job: ImportJob, done: int, total: int, phase: str) -> None:
    value = {"done": done, "total": total, "phase": phase, "at": time.time()}
    try:
        caches["progress"].set(_progress_key(job), value, timeout=24 * 3600)
    except Exception:
        logger.warning("import progress not published", exc_info=True)


def mapping_remembered(
    *, tenant: Tenant, headers: list[str], profiles: list[dict] | None = None
) -> tuple[dict[str, int], str]:
    """The mapping for a new file, and its date format: each field goes to the column whose
    header it was mapped from in the tenant's most recent imports; the rest are guessed from
    the headers' words. The date format chosen for the same date columns is proposed again
    unless this file's dates show another."""
    columns = {_plain(h): i for i, h in enumerate(headers) if h.strip()}
    mapping: dict[str, int] = {}
    date_format = AUTO
    recent = (
        ImportJob.objects.filter(tenant=tenant)
        .exclude(status=ImportStatus.DRAFT)
        .only("headers", "mapping", "date_format")[:20]
    )
    for job in recent:
        dates_from_here = False
        for name, index in job.mapping.items():
            if name not in FIELDS or not 0 <= index < len(job.headers):
                continue
            column = columns.get(_plain(job.headers[index]))
            if column is None:
                continue
            if name not in mapping:
                mapping[name] = column
            dates_from_here |= name in DATE_FIELDS and mapping[name] == column
        if dates_from_here and date_format == AUTO and job.date_format in DATE_FORMATS:
            date_format = job.date_format
    for name, index in guess_mapping(headers).items():
        typed = {KINDS[n] for n, i in mapping.items() if i == index and n in KINDS}
        if name not in mapping and (name not in KINDS or typed <= {KINDS[name]}):
            mapping[name] = index
    if date_format != AUTO and profiles:
        shown = {detected_order(profiles[mapping[n]]) for n in DATE_FIELDS if n in mapping}
        if shown - {None, date_format}:
            date_format = AUTO  # this file's own dates say otherwise
    return mapping, date_format


def import_job_create(*, tenant: Tenant, filename: str, content: bytes, actor=None) -> ImportJob:
    """Read the file (refusing one that is not a table) and keep it, with the mapping to
    propose. Raises ImportFileError."""
    if len(content) > MAX_BYTES:
        raise ImportFileError(
            _("The file is too large (at most %(mb)s MB).") % {"mb": MAX_BYTES // 2**20}
        )
    headers, rows = read_table(filename, content)
    if not rows:
        raise ImportFileError(_("The file has a header but no rows."))
    if not any(h for h in headers):
        raise ImportFileError(_("The first row must name the columns."))
    profiles = columns_profile(rows, len(headers))
    mapping, date_format = mapping_remembered(tenant=tenant, headers=headers, profiles=profiles)
    job = ImportJob(
        tenant=tenant,
        filename=filename[:200],
        headers=headers,
        sample=[cells_to_json(r) for r in rows[:SAMPLE_ROWS]],
        rows=len(rows),
        mapping=mapping,
        date_format=date_format,
        column_formats=profiles,
        uploaded_by=actor,
    )
    job.file.save("import", ContentFile(content), save=False)
    try:
        job.save()
    except BaseException:
        job.file.storage.delete(job.file.name)  # no row points at it: nothing left behind
        raise
    return job


def import_file_read(job: ImportJob) -> bytes:
    """The job's kept file, from the storage (b"" once dropped)."""
    if not job.file:
        return b""
    try:
        with job.file.storage.open(job.file.name, "rb") as kept:
            return kept.read()
    except FileNotFoundError:
        logger.warning("import %s: its file %s is missing from the storage", job.pk, job.file)
        return b""


def import_file_drop(job: ImportJob) -> None:
    """Forget the job's file: the row no longer points at it, and the stored file is deleted
    (now: an erasure must not wait for a commit that a test or a caller may never make)."""
    name = job.file.name
    if not name:
        return
    ImportJob.objects.filter(pk=job.pk).update(file="")
    job.file.name = ""
    job.file.storage.delete(name)


def mapping_from_form(job: ImportJob, data) -> dict[str, int]:
    """The mapping a submitted form chose: `map_<field>` = a column index, or empty."""
    mapping: dict[str, int] = {}
    for name in FIELDS:
        raw = (data.get(f"map_{name}") or "").strip()
        if raw.isdigit() and int(raw) < len(job.headers):
            mapping[name] = int(raw)
    return mapping


def date_format_from_form(data) -> str:
    """The date format a submitted form chose (`date_format`), "auto" when none or unknown."""
    chosen = (data.get("date_format") or "").strip()
    return chosen if chosen in DATE_FORMATS else AUTO


def preview(job: ImportJob, mapping: dict[str, int], date_format: str = AUTO) -> list[dict]:
    """The sample rows as they would be read with this mapping and date format: per row,
    each mapped field's value as understood (or its error). The dates and amounts are read
    the way their whole column is written, as the import will."""
    rules = read_rules(
        mapping,
        profiles=job.column_formats,
        date_format=date_format,
        today=tenant_today(tenant=job.tenant),
        timezone=job.tenant.timezone,
    )
    out = []
    for offset, kept in enumerate(job.sample):
        item, errors = row_check(cells_from_json(kept), mapping, rules)
        problems = dict(errors)
        values = {**item, **{f"customer_{k}": v for k, v in item.get("customer", {}).items()}}
        out.append(
            {
                "row": offset + 2,
                "cells": [
                    {
                        "field": name,
                        "label": FIELDS[name][0],
                        "value": values.get(name),
                        "error": problems.get(name),
                    }
                    for name in FIELDS
                    if name in mapping
                ],
                "ok": not errors,
            }
        )
    return out


def import_job_start(
    *,
    job: ImportJob,
    mapping: dict[str, int],
    valid_only: bool,
    date_format: str | None = None,
    enqueue: bool = True,
) -> None:
    """Queue the job with this mapping and date format (None: the job's; both checked by the
    caller with `mapping_problems`): the Celery task is sent once the transaction commits,
    unless `enqueue` is false (the caller then runs `import_job_run` itself, as the benchmark
    does)."""
    date_format = date_format or job.date_format
    if job.written_through:
        # Some of its rows are written: it can only be finished as it was started.
        mapping, valid_only, date_format = job.mapping, job.valid_only, job.date_format
    updated = (
        ImportJob.objects.filter(
            pk=job.pk, status__in=[ImportStatus.DRAFT, ImportStatus.REFUSED, ImportStatus.FAILED]
        )
        .exclude(file="")
        .update(
            mapping=mapping,
            date_format=date_format,
            valid_only=valid_only,
            status=ImportStatus.QUEUED,
        )
    )
    if not updated:
        if job.status in (ImportStatus.REFUSED, ImportStatus.FAILED):
            # Those can run again unless upkeep has dropped their file.
            raise ImportFileError(_("This import's file is no longer kept: upload it again."))
        raise ImportFileError(_("This import has already run."))
    job.mapping, job.valid_only, job.status = mapping, valid_only, ImportStatus.QUEUED
    job.date_format = date_format
    _progress_publish(job, 0, 2 * job.rows, "queued")
    if enqueue:
        import_run_later(job_id=job.pk, tenant_id=job.tenant_id)


def _worker_silent(job: ImportJob) -> bool:
    """No progress published for STALE_SECONDS: whatever ran the job is gone."""
    return time.time() - (import_progress(job) or {}).get("at", 0) > STALE_SECONDS


def _claim(job: ImportJob) -> bool:
    """Take the job: a queued one, or a running one whose worker went silent (a redelivery
    after a lost worker). A duplicate task finds nothing to take."""
    now = timezone.now()
    if ImportJob.objects.filter(pk=job.pk, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=now
    ):
        return True
    return bool(
        _worker_silent(job)
        and ImportJob.objects.filter(
            Q(started_at=job.started_at), pk=job.pk, status=ImportStatus.RUNNING
        ).update(started_at=now)
    )


def _checkpoint(job: ImportJob) -> Callable[[ChunkWritten], None]:
    """Inside each chunk's transaction: the job's counts and the row to resume after."""

    def checkpoint(chunk: ChunkWritten) -> None:
        ImportJob.objects.filter(pk=job.pk).update(
            written_through=chunk.through_row,
            created=F("created") + chunk.created,
            updated=F("updated") + chunk.updated,
            payments=F("payments") + chunk.payments,
        )
        if chunk.days:
            # The days read back inside the same transaction: only this run writes the job.
            kept = ImportJob.objects.filter(pk=job.pk).values_list("stats_days", flat=True)[0]
            days = sorted(set(kept) | {day.isoformat() for day in chunk.days})
            ImportJob.objects.filter(pk=job.pk).update(stats_days=days)

    return checkpoint


def import_job_run(
    *, job: ImportJob, on_progress: Callable[[int, int], None] | None = None
) -> ImportJob:
    """The Celery job's body: check every row, write them as the job says, keep the counts
    and the error report. The file is dropped once its rows are written. `on_progress(done,
    total)` is told of every step too (the terminal's progress bar). A job some of whose
    chunks were committed by an earlier run (`written_through`) is resumed after them."""
    if not _claim(job):
        return job
    job.refresh_from_db(fields=["status", "started_at", "written_through", "stats_days", "file"])
    resume_after = job.written_through
    if not resume_after:  # a fresh run: the counts are this run's alone
        ImportJob.objects.filter(pk=job.pk).update(created=0, updated=0, payments=0, stats_days=[])
    last = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last
        if on_progress:
            on_progress(done, total)
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY or done >= total:
            last = now
            _progress_publish(job, done, total, "checking" if done < job.rows else "writing")

    _progress_publish(job, 0, 2 * job.rows, "checking")
    headers: list[str] = []
    rows: list[list[str]] = []
    try:
        headers, rows = read_table(job.filename, import_file_read(job))
        result = invoices_import(
            tenant=job.tenant,
            headers=headers,
            rows=rows,
            mapping=job.mapping,
            date_format=job.date_format,
            profiles=job.column_formats or None,
            valid_only=job.valid_only,
            progress=progress,
            import_job_id=job.pk,
            resume_after=resume_after,
            resume_days={date.fromisoformat(day) for day in job.stats_days or []},
            checkpoint=_checkpoint(job),
        )
    except ImportFileError as exc:
        job.status, job.failure = ImportStatus.FAILED, str(exc)
        result = None
    except Exception:
        logger.exception("import %s failed", job.pk)
        job.status = ImportStatus.FAILED
        job.failure = _("An unexpected error stopped the import; nothing was written.")
        result = None
    # The counts and the checkpoint as the committed chunks left them.
    job.refresh_from_db(fields=["created", "updated", "payments", "written_through", "stats_days"])
    if result is None:
        if job.written_through:
            job.failure = _(
                "An unexpected error stopped the import after the rows up to line %(row)s "
                "were written. Finish the import: it goes on from there and writes no row "
                "twice."
            ) % {"row": job.written_through}
    else:
        job.status = ImportStatus.DONE if result.written else ImportStatus.REFUSED
        job.failure = ""
        job.imported = job.created + job.updated
        job.rows_with_errors = result.rows_with_errors
        job.errors_report = "".join(errors_csv(result, headers, rows)) if result.errors else ""
        job.first_errors = first_errors(result, rows, job.mapping)
        if result.written:
            job.stats_days = []
    job.finished_at = timezone.now()
    job.save()
    if result is not None and result.written:
        import_file_drop(job)
    _progress_publish(job, 2 * job.rows, 2 * job.rows, job.status)
    return job


KEEP_DAYS = 7


def imports_upkeep() -> dict:
    """Housekeeping, from beat's tick: send again the jobs whose task was lost (queued for
    ten minutes, or running with a silent worker: `_claim` decides); forget files no one
    went on with after KEEP_DAYS (drafts, and refused or failed imports, whose counts and
    error report stay)."""
    now = timezone.now()
    old = now - timedelta(days=KEEP_DAYS)
    with scopes_disabled():
        stuck = ImportJob.objects.filter(
            Q(status=ImportStatus.QUEUED, created_at__lt=now - timedelta(minutes=10))
            | Q(status=ImportStatus.RUNNING, started_at__lt=now - timedelta(seconds=STALE_SECONDS))
        ).only("id", "tenant_id", "token")
        resent = 0
        for job in stuck:
            if _worker_silent(job):
                import_run_now(job_id=job.pk, tenant_id=job.tenant_id)
                resent += 1
        dropped, _kinds = ImportJob.objects.filter(
            status=ImportStatus.DRAFT, created_at__lt=old
        ).delete()
        cleared = 0
        for job in (
            ImportJob.objects.filter(
                status__in=[ImportStatus.REFUSED, ImportStatus.FAILED],
                created_at__lt=old,
                written_through=0,  # one half written keeps its file until it is finished
            )
            .exclude(file="")
            .only("id", "file")
        ):
            import_file_drop(job)
            cleared += 1
    return {"resent": resent, "drafts_deleted": dropped, "files_dropped": cleared}
