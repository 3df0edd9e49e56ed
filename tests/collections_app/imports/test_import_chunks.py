"""A large import on SQLite (the embedded mode, one writer at a time for the whole database)
does not hold the write lock for its whole run: every row is checked first, then the rows are
committed chunk by chunk, so the dashboard and the worker write between two chunks. A run cut
short (the worker killed, a failure) resumes after the last committed chunk and writes no row
twice. On PostgreSQL the rows are written in one transaction, as before: a run cut short wrote
nothing."""

import threading
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django_scopes import scope, scopes_disabled

from collections_app.imports import importer
from collections_app.imports import jobs as import_jobs
from collections_app.imports.jobs import import_job_create, import_job_run, import_job_start
from collections_app.models import Customer, ImportJob, ImportStatus, Invoice, Payment
from collections_app.payments.services import invoice_record_payment
from tests.collections_app.factories import InvoiceFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.clock("2026-12-02T12:00-03:00")]

HEADER = "Código;Valor;Emissão;Vencimento;Código cliente;Cliente;Data de pagamento"
ROWS = 250
CHUNK = 100  # three chunks: file rows 2-101, 102-201, 202-251
SQLITE = connection.vendor == "sqlite"


def big_file(rows: int = ROWS, bad_row: int | None = None) -> bytes:
    lines = [HEADER]
    for i in range(rows):
        due = "31/13/2026" if bad_row == i + 2 else "16/12/2026"
        paid = "20/11/2026" if i % 10 == 0 else ""  # every tenth invoice was paid already
        lines.append(f"F-{i};10,00;16/11/2026;{due};C-{i};Cliente {i};{paid}")
    return ("\n".join(lines) + "\n").encode("utf-8")


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(importer, "CHUNK", CHUNK)
    monkeypatch.setattr(importer, "SQLITE_PAUSE", 0.0)


def queued_job(tenant, content: bytes) -> ImportJob:
    with scopes_disabled():
        job = import_job_create(tenant=tenant, filename="grande.csv", content=content)
        assert {"paid_date", "due_date", "external_id"} <= set(job.mapping)
        import_job_start(job=job, mapping=job.mapping, valid_only=False, enqueue=False)
    return job


class ProcessKilled(BaseException):
    """The worker killed mid-import: nothing after it runs, no `except Exception` sees it."""


def upsert_dying_at(call: int, error: BaseException):
    real = importer.invoices_upsert
    calls = []

    def upsert(**kwargs):
        calls.append(1)
        if len(calls) == call:
            raise error
        return real(**kwargs)

    return upsert


def imported_state(tenant) -> tuple[int, int, int, int]:
    with scope(tenant=tenant):
        invoices = Invoice.objects.filter(external_id__startswith="F-")
        return (
            invoices.count(),
            invoices.values("external_id").distinct().count(),
            Customer.objects.filter(external_id__startswith="C-").count(),
            Payment.objects.filter(invoice__in=invoices).count(),
        )


def test_another_writer_records_a_payment_while_a_large_import_runs(tenant_a):
    """The dashboard records a payment from another connection, with a short busy timeout,
    while the import is writing: it gets the write lock between two chunks."""
    # Its customer's code is not one of the file's ("C-0"…"C-249"), whatever the factory's count.
    other = InvoiceFactory(
        tenant=tenant_a,
        due_date=date(2026, 12, 1),
        amount="80.00",
        customer={"external_id": "OUTRO-1", "name": "Outro cliente"},
    )
    job = queued_job(tenant_a, big_file())
    outcome: list = []

    def dashboard_records_a_payment():
        try:
            with connection.cursor() as cursor:
                if connection.vendor == "sqlite":
                    cursor.execute("PRAGMA busy_timeout=1000")
            with scope(tenant=tenant_a):
                invoice = Invoice.objects.get(pk=other.pk)
                invoice_record_payment(
                    tenant=tenant_a, invoice=invoice, amount=Decimal("80.00"), thank_you=False
                )
            outcome.append("recorded")
        except Exception as exc:  # "database is locked" when the import holds the lock
            outcome.append(repr(exc))
        finally:
            connection.close()

    def on_progress(done: int, total: int) -> None:
        # Past the checking, once the first chunk is written: the dashboard writes now.
        if not outcome and done >= ROWS + CHUNK:
            writer = threading.Thread(target=dashboard_records_a_payment)
            writer.start()
            writer.join(timeout=20)

    with scopes_disabled():
        job = import_job_run(job=ImportJob.objects.get(pk=job.pk), on_progress=on_progress)
    assert outcome == ["recorded"]
    assert job.status == ImportStatus.DONE and job.imported == ROWS and job.created == ROWS
    assert imported_state(tenant_a) == (ROWS, ROWS, ROWS, ROWS // 10)
    with scope(tenant=tenant_a):
        assert Payment.objects.filter(invoice=other).count() == 1


def test_a_worker_killed_mid_import_is_resumed_without_writing_a_row_twice(tenant_a, monkeypatch):
    job = queued_job(tenant_a, big_file())
    with monkeypatch.context() as m:
        m.setattr(importer, "invoices_upsert", upsert_dying_at(3, ProcessKilled()))
        with scopes_disabled(), pytest.raises(ProcessKilled):
            import_job_run(job=ImportJob.objects.get(pk=job.pk))
    with scopes_disabled():
        job.refresh_from_db()
    assert job.status == ImportStatus.RUNNING and job.file  # the file stays for the resume
    if SQLITE:
        # Two chunks were committed, and the checkpoint with them.
        assert job.written_through == 201 and job.created == 200
        assert imported_state(tenant_a) == (200, 200, 200, 20)
    else:
        # One transaction: the killed worker's writes went with it.
        assert job.written_through == 0
        assert imported_state(tenant_a) == (0, 0, 0, 0)

    # The task is redelivered once the worker is seen to be gone.
    import_jobs.caches["progress"].delete(import_jobs._progress_key(job))
    with scopes_disabled():
        job = import_job_run(job=ImportJob.objects.get(pk=job.pk))
    assert job.status == ImportStatus.DONE
    assert (job.imported, job.created, job.updated, job.payments) == (ROWS, ROWS, 0, ROWS // 10)
    assert imported_state(tenant_a) == (ROWS, ROWS, ROWS, ROWS // 10)
    assert not job.file and job.stats_days == []
    with scope(tenant=tenant_a):
        assert Invoice.objects.filter(import_job_id=job.pk).count() == ROWS


def test_a_failure_mid_import_says_what_was_written_and_the_page_finishes_it(
    tenant_a, agent, login, monkeypatch
):
    job = queued_job(tenant_a, big_file())
    with monkeypatch.context() as m:
        m.setattr(importer, "invoices_upsert", upsert_dying_at(2, RuntimeError("disk full")))
        with scopes_disabled():
            job = import_job_run(job=ImportJob.objects.get(pk=job.pk))
    assert job.status == ImportStatus.FAILED
    client = login(agent)
    page = client.get(f"/imports/{job.pk}/").content.decode()
    if not SQLITE:
        assert job.written_through == 0 and imported_state(tenant_a) == (0, 0, 0, 0)
        assert "nada foi gravado" in page.lower() and "finish_now" not in page
        return
    assert job.written_through == 101 and imported_state(tenant_a) == (100, 100, 100, 10)
    assert "até a linha 101" in page and 'name="finish_now"' in page
    # Finishing takes the job's own mapping, whatever the form says.
    answer = client.post(f"/imports/{job.pk}/", {"finish_now": "1", "map_amount": "0"})
    assert answer.status_code == 302
    with scopes_disabled():
        job.refresh_from_db()
    assert job.status == ImportStatus.DONE, job.failure
    assert (job.imported, job.created, job.payments) == (ROWS, ROWS, ROWS // 10)
    assert imported_state(tenant_a) == (ROWS, ROWS, ROWS, ROWS // 10)


def test_bad_input_in_the_last_chunk_writes_nothing(tenant_a):
    """Every row is checked before the first chunk is written: all or nothing still holds."""
    job = queued_job(tenant_a, big_file(bad_row=ROWS + 1))
    with scopes_disabled():
        job = import_job_run(job=ImportJob.objects.get(pk=job.pk))
    assert job.status == ImportStatus.REFUSED and job.rows_with_errors == 1
    assert job.written_through == 0 and job.imported == 0
    assert imported_state(tenant_a) == (0, 0, 0, 0)
    assert job.file  # kept: "import the valid rows" can still run
