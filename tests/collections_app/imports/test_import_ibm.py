"""IBM's accounts-receivable sample (../shared/data/accounts_receivable_ibm.csv, 2,466 paid
invoices, US dates M/D/YYYY, English camelCase headers, no customer names) imported through the
dashboard as it is: upload, the proposed mapping confirmed, the date format chosen once, the
job the dashboard runs — then every row of the file checked against the database, read from
the file here independently of the importer."""

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path
from statistics import mean
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import call_command
from django_scopes import scope, scopes_disabled

from collections_app.models import (
    DailyStat,
    ImportJob,
    ImportStatus,
    Interaction,
    InteractionKind,
    Invoice,
    InvoiceStatus,
    Payment,
)
from collections_app.stats.selectors import metrics_compute
from messaging.models import Message
from tenants.selectors import tenant_today
from tests.collections_app.imports.test_import_ui import form, uploaded
from tests.conftest import require_service
from tests.metrics_oracle import metrics_from_invoices

pytestmark = pytest.mark.django_db

# Read where it is kept, next to the repository; never copied into it.
IBM = Path(settings.SHARED_DIR) / "data" / "accounts_receivable_ibm.csv"
PROPOSED = {
    "external_id": "invoiceNumber",
    "number": "invoiceNumber",
    "amount": "InvoiceAmount",
    "issue_date": "InvoiceDate",
    "due_date": "DueDate",
    "customer_external_id": "customerID",
    "customer_name": "customerID",
    "paid_date": "SettledDate",
    "disputed": "Disputed",
}


@pytest.fixture
def ibm_content() -> bytes:
    require_service(IBM.is_file(), f"{IBM} is missing (see shared/data/README.md)")
    return IBM.read_bytes()


def us_date(text: str) -> date:
    month, day, year = (int(part) for part in text.split("/"))
    return date(year, month, day)


def file_rows(content: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(content.decode("ascii"))))


def imported(client, start, content: bytes) -> ImportJob:
    """The file through the dashboard: uploaded, its proposed mapping confirmed, the dates
    read month first (chosen once, for every date column), the job run."""
    job = uploaded(client, content, "accounts_receivable_ibm.csv")
    answer = start(client, job, form(job, date_format="mdy"))
    assert answer.status_code == 302, answer.content.decode()[:2000]
    job.refresh_from_db()
    return job


def test_the_mapping_screen_proposes_the_mapping_and_reads_the_dates_month_first(
    login, agent, ibm_content
):
    client = login(agent)
    job = uploaded(client, ibm_content, "accounts_receivable_ibm.csv")
    assert {name: job.headers[i] for name, i in job.mapping.items()} == PROPOSED
    assert job.rows == 2466 and job.date_format == "auto"
    page = client.get(f"/imports/{job.pk}/").content.decode()
    # Every mapped date column shows values only month-first fits: no question to ask…
    assert "Escolha o formato das datas" not in page
    for header in ("InvoiceDate", "DueDate", "SettledDate"):
        assert f'data-date-column="{header}"' in page
    assert page.count("mês/dia/ano · conforme as datas da coluna") == 3
    # …and the preview reads the first row as the file means it.
    assert 'data-row="2"' in page and "01/02/2013" in page and "15/01/2013" in page
    assert "R$ 55,94" in page


def assert_every_row_landed(tenant, job: ImportJob, content: bytes) -> None:
    """Every row of the file, read here on its own terms, is in the database as it says: the
    invoice, its customer, its payment, its dispute — and nothing was sent about any of it."""
    rows = file_rows(content)
    assert (job.status, job.failure) == (ImportStatus.DONE, "")
    assert (job.rows, job.imported, job.created, job.payments) == (2466, 2466, 2466, 2466)
    assert job.rows_with_errors == 0 and job.first_errors == []
    zone = ZoneInfo(tenant.timezone)
    with scope(tenant=tenant):
        invoices = {i.external_id: i for i in Invoice.objects.select_related("customer")}
        payments = {p.invoice_id: p for p in Payment.objects.all()}
        assert len(payments) == Payment.objects.count() == 2466
        assert len(invoices) == len(rows) == 2466
        for row in rows:
            invoice = invoices[row["invoiceNumber"]]  # leading zeros kept: an id is text
            where = f"invoice {row['invoiceNumber']}"
            assert invoice.number == row["invoiceNumber"], where
            assert invoice.customer.external_id == row["customerID"], where
            assert invoice.customer.name == row["customerID"], where  # no name column
            assert invoice.amount == Decimal(row["InvoiceAmount"]), where
            assert invoice.issue_date == us_date(row["InvoiceDate"]), where
            assert invoice.due_date == us_date(row["DueDate"]), where
            assert invoice.disputed is (row["Disputed"] == "Yes"), where
            # Settled: paid in full on the settled date, by one payment from the import.
            settled = us_date(row["SettledDate"])
            assert invoice.status == InvoiceStatus.PAID, where
            assert (invoice.paid_on, invoice.amount_paid) == (settled, invoice.amount), where
            payment = payments[invoice.pk]
            assert payment.amount == invoice.amount, where
            assert payment.paid_at.astimezone(zone).date() == settled, where
            assert payment.source == "import", where
            # The figures the metrics average, as the file has them.
            assert invoice.days_to_pay == int(row["DaysToSettle"]), where
            late = max(0, (settled - invoice.effective_due_date).days)
            assert invoice.days_late == late, where
            if invoice.effective_due_date == invoice.due_date:
                assert invoice.days_late == int(row["DaysLate"]), where
            assert invoice.import_job_id == job.pk, where
        assert Interaction.objects.filter(kind=InteractionKind.PAYMENT).count() == 2466
        # History is not news: nothing was queued (no thank-you)…
        assert not Message.objects.exists()
        # …the metrics are right at once, from the rollups the import refreshed…
        today = tenant_today(tenant=tenant)
        period = {"date_from": date(2012, 1, 1), "date_to": date(2014, 12, 31), "today": today}
        figures = metrics_compute(tenant=tenant, **period)
        assert figures == metrics_from_invoices(tenant=tenant, **period)
        assert figures["invoices_due"] == 2466
        assert figures["avg_days_to_pay"] == round(mean(int(r["DaysToSettle"]) for r in rows), 2)
        assert Decimal(figures["amount_due"]) == sum(Decimal(r["InvoiceAmount"]) for r in rows)
        assert figures["overdue_amount"] == "0.00" and figures["default_rate"] == 0
        assert DailyStat.objects.exists()
    # …and the ladders find nothing to send about any of them.
    call_command("run_ladders", "--tenant", tenant.slug)
    with scopes_disabled():
        assert not Message.objects.filter(tenant=tenant).exists()


def test_every_row_of_the_ibm_file_lands_as_the_file_says(
    start, login, agent, tenant_a, ibm_content
):
    job = imported(login(agent), start, ibm_content)
    assert_every_row_landed(tenant_a, job, ibm_content)


def test_importing_the_ibm_file_again_changes_nothing(start, login, agent, tenant_a, ibm_content):
    client = login(agent)
    first = imported(client, start, ibm_content)
    again = uploaded(client, ibm_content, "accounts_receivable_ibm.csv")
    # The date format chosen the first time is proposed again for the same columns.
    assert again.date_format == "mdy"
    start(client, again, form(again))
    again.refresh_from_db()
    assert first.status == again.status == ImportStatus.DONE
    assert (again.created, again.updated, again.payments) == (0, 2466, 0)
    with scopes_disabled():
        assert Payment.objects.filter(tenant=tenant_a).count() == 2466
        assert Invoice.objects.filter(tenant=tenant_a, import_job=again).count() == 2466
