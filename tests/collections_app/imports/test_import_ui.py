"""Importing from the dashboard: upload, map the columns with a preview (the mapping is
remembered for the next file), a job that checks every row and writes all or nothing — or,
asked explicitly, the valid rows — with its progress and a downloadable error report."""

import csv
import io
import re
from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_scopes import scopes_disabled

from collections_app.imports import jobs as import_jobs
from collections_app.imports.jobs import _progress_publish, import_job_run, imports_upkeep
from collections_app.models import Customer, ImportJob, ImportStatus, Invoice
from collections_app.tasks import import_run
from tests.collections_app.factories import InvoiceFactory
from tests.collections_app.imports.test_import import GOOD, csv_bytes
from tests.collections_app.web.test_field_errors_and_ladder_end import field_error

pytestmark = pytest.mark.django_db

BAD = "F-3;NF-3;abc;31/02/2026;01/12/2026;C-3;Zé;111.111.111-12;nao-e-email;123"


def upload(client, content: bytes, name: str = "faturas.csv"):
    return client.post("/imports/", {"file": SimpleUploadedFile(name, content)})


def uploaded(client, content: bytes, name: str = "faturas.csv") -> ImportJob:
    answer = upload(client, content, name)
    assert answer.status_code == 302, answer.content[:500]
    with scopes_disabled():
        job = ImportJob.objects.latest("id")
    assert answer["Location"] == f"/imports/{job.pk}/"
    return job


def form(job: ImportJob, mode: str = "all", **override) -> dict:
    """The mapping form as proposed (columns, date format), with `override`n fields."""
    data = {f"map_{name}": str(index) for name, index in job.mapping.items()}
    data["date_format"] = job.date_format
    data.update(override)
    data["mode"] = mode
    return data


def test_an_upload_proposes_a_mapping_and_previews_the_first_rows(login, agent):
    client = login(agent)
    job = uploaded(client, csv_bytes(*GOOD, BAD))
    assert job.status == ImportStatus.DRAFT and job.rows == 3
    assert job.headers[job.mapping["amount"]] == "Valor"
    page = client.get(f"/imports/{job.pk}/").content.decode()
    # Each field offers the file's columns, the guessed one selected.
    assert f'<option value="{job.mapping["amount"]}" selected>Valor</option>' in page
    # The preview shows the rows as read: money and dates in pt-BR, phones in E.164…
    assert "R$ 1.234,50" in page and "16/12/2026" in page and "+5511987654321" in page
    # …and, on the bad row, what is wrong with each cell.
    assert "“abc” não é um valor" in page and "não é um CPF válido" in page
    assert page.count('class="cell-error"') >= 4
    assert 'name="mode" value="valid_only"' in page


def test_changing_a_column_redraws_the_preview(login, agent):
    client = login(agent)
    job = uploaded(client, csv_bytes(*GOOD))
    # Map the amount to the "Número" column: every row's amount is now an error.
    data = form(job, map_amount=str(job.headers.index("Número")))
    data["map_number"] = ""
    part = client.post(f"/imports/{job.pk}/preview/", data).content.decode()
    assert part.startswith('<section id="preview"')
    assert part.count('class="cell-error"') == 2
    # Leaving out a required field says which.
    data = form(job, map_due_date="")
    part = client.post(f"/imports/{job.pk}/preview/", data).content.decode()
    assert 'role="alert"' in part and "campo obrigatório: Vencimento" in part


def test_a_clean_file_is_imported_by_the_job(start, login, agent, tenant_a):
    client = login(agent)
    job = uploaded(client, csv_bytes(*GOOD))
    answer = start(client, job, form(job))
    assert answer.status_code == 302
    job.refresh_from_db()
    # Tests run Celery eagerly: the job has run by now.
    assert job.status == ImportStatus.DONE
    assert (job.imported, job.created, job.updated, job.rows_with_errors) == (2, 2, 0, 0)
    assert not job.file  # the file is dropped once written
    with scopes_disabled():
        assert Invoice.objects.filter(tenant=tenant_a).count() == 2
        assert Customer.objects.get(tenant=tenant_a, external_id="C-1").phone == "+5511987654321"
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert "hx-trigger" not in page  # finished: nothing polls
    assert "2 faturas importadas: 2 novas, 0 atualizadas." in page
    listing = client.get("/imports/").content.decode()
    assert f'data-import="{job.pk}"' in listing and "faturas.csv" in listing


def test_errors_stop_the_file_then_the_valid_rows_can_be_imported_explicitly(
    start, login, agent, tenant_a
):
    client = login(agent)
    job = uploaded(client, csv_bytes(GOOD[0], BAD, GOOD[1]))
    start(client, job, form(job))
    job.refresh_from_db()
    assert job.status == ImportStatus.REFUSED and job.rows_with_errors == 1
    with scopes_disabled():
        assert not Invoice.objects.filter(tenant=tenant_a).exists()  # nothing half-written
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert 'name="valid_only_now"' in page and f"/imports/{job.pk}/errors.csv" in page

    report = client.get(f"/imports/{job.pk}/errors.csv")
    assert report["Content-Type"] == "text/csv"
    assert "attachment" in report["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "linha" and rows[0][-1] == "erros"
    assert [r[0] for r in rows[1:]] == ["3"]  # the file's row 3, as it was
    assert rows[1][1:-1] == BAD.split(";")
    assert "abc" in rows[1][-1] and "111.111.111-12" in rows[1][-1]

    start(client, job, {"valid_only_now": "1"})
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and job.valid_only
    assert (job.imported, job.rows_with_errors) == (2, 1)
    with scopes_disabled():
        assert set(Invoice.objects.values_list("external_id", flat=True)) == {"F-1", "F-2"}
    # A finished import cannot be started again.
    start(client, job, {"valid_only_now": "1"})
    with scopes_disabled():
        assert Invoice.objects.filter(tenant=tenant_a).count() == 2


def test_choosing_valid_rows_up_front_imports_them_and_reports_the_rest(start, login, agent):
    client = login(agent)
    job = uploaded(client, csv_bytes(GOOD[0], BAD))
    start(client, job, form(job, mode="valid_only"))
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and (job.imported, job.rows_with_errors) == (1, 1)
    assert client.get(f"/imports/{job.pk}/errors.csv").status_code == 200


def test_a_mapping_without_a_required_field_is_refused_and_nothing_runs(start, login, agent):
    client = login(agent)
    job = uploaded(client, csv_bytes(*GOOD))
    answer = start(client, job, form(job, "valid_only", map_amount=""))
    assert answer.status_code == 400
    page = answer.content.decode()
    # A required field left out is the mapping's error, at the top of its form, and the
    # empty select says so and takes the focus; what was chosen stays.
    message = field_error(page, "map-amount")
    assert message.startswith("Escolha uma coluna para cada campo obrigatório: ")
    assert "Valor" in message
    form_top = page[page.index('id="mapping"') : page.index('id="mapping-title"') + 2000]
    assert '<div role="alert"><ul class="errorlist" id="mapping-errors"' in form_top
    assert "autofocus" in re.search(r'<select[^>]*id="map-amount"[^>]*>', page).group(0)
    due = job.mapping["due_date"]
    assert re.search(rf'id="map-due_date".*?<option value="{due}" selected>', page, re.S)
    assert 'name="mode" value="valid_only" checked' in page
    assert "flash-error" not in page
    job.refresh_from_db()
    assert job.status == ImportStatus.DRAFT
    # A column may feed several fields, but not an amount and a date: the message names them,
    # beside the second field's select.
    answer = start(client, job, form(job, map_due_date=str(job.mapping["amount"])))
    assert answer.status_code == 400
    assert field_error(answer.content.decode(), "map-due_date") == (
        "“Valor” e “Vencimento” não podem vir da mesma coluna (“Valor”)."
    )
    assert 'id="mapping-errors"' not in answer.content.decode()
    job.refresh_from_db()
    assert job.status == ImportStatus.DRAFT


def test_the_mapping_is_remembered_for_the_next_file(start, login, agent):
    client = login(agent)
    # Headers nothing would guess: the user maps them by hand once.
    header = "Doc;Cli;Nome do sacado;Quanto;Emitida;Vence"
    lines = [header, "A-1;K-1;Maria;10,00;21/11/2026;21/12/2026"]
    first = uploaded(client, ("\n".join(lines) + "\n").encode())
    mapping = {
        "external_id": "0",
        "customer_external_id": "1",
        "customer_name": "2",
        "amount": "3",
        "issue_date": "4",
        "due_date": "5",
    }
    start(client, first, {f"map_{k}": v for k, v in mapping.items()})
    first.refresh_from_db()
    assert first.status == ImportStatus.DONE
    # The next file has the same columns in another order, and one more.
    header2 = "Vence;Quanto;Doc;Obs;Emitida;Nome do sacado;Cli"
    lines2 = [header2, "22/12/2026;20,00;A-2;x;22/11/2026;João;K-2"]
    second = uploaded(client, ("\n".join(lines2) + "\n").encode())
    named = {name: second.headers[i] for name, i in second.mapping.items()}
    assert named["external_id"] == "Doc" and named["amount"] == "Quanto"
    assert named["due_date"] == "Vence" and named["customer_name"] == "Nome do sacado"


@pytest.mark.parametrize(
    ("content", "name"),
    [(b"", "vazio.csv"), (b"PK\x03\x04garbage", "quebrado.xlsx"), (b"A;B\n", "so-cabecalho.csv")],
)
def test_an_unreadable_file_is_refused_with_the_reason(login, agent, content, name):
    client = login(agent)
    answer = upload(client, content, name)
    assert answer.status_code == 400  # the page again, the reason beside the file field
    page = answer.content.decode()
    assert field_error(page, "import-file").startswith("O arquivo não foi lido: ")
    assert "autofocus" in re.search(r'<input[^>]*id="import-file"[^>]*>', page).group(0)
    assert "flash-error" not in page
    with scopes_disabled():
        assert not ImportJob.objects.exists()


def test_no_file_a_wrong_type_or_a_too_large_one_is_told_beside_the_file_field(
    login, agent, monkeypatch
):
    client = login(agent)
    missing = client.post("/imports/", {})
    assert missing.status_code == 400
    assert field_error(missing.content.decode(), "import-file") == "Escolha um arquivo."
    wrong = upload(client, b"%PDF-1.4", "boletos.pdf")
    assert wrong.status_code == 400
    assert field_error(wrong.content.decode(), "import-file").startswith("O arquivo não foi lido")
    monkeypatch.setattr("collections_app.web.imports.MAX_BYTES", 1 << 20)
    large = upload(client, csv_bytes(*GOOD) + b";" * (1 << 20))
    assert large.status_code == 400
    error = field_error(large.content.decode(), "import-file")
    assert error == "O arquivo é grande demais (no máximo 1 MB)."
    with scopes_disabled():
        assert not ImportJob.objects.exists()


def test_the_progress_bar_follows_the_running_job(login, agent):
    client = login(agent)
    job = uploaded(client, csv_bytes(*GOOD))
    # A draft has nothing running: its status does not poll.
    assert "hx-trigger" not in client.get(f"/imports/{job.pk}/status/").content.decode()
    with scopes_disabled():
        ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING)
    job.refresh_from_db()
    _progress_publish(job, 1, 4, "checking")
    part = client.get(f"/imports/{job.pk}/status/").content.decode()
    assert 'hx-trigger="every 1s"' in part
    assert 'value="25"' in part and 'data-percent="25"' in part
    _progress_publish(job, 3, 4, "writing")
    assert 'value="75"' in client.get(f"/imports/{job.pk}/status/").content.decode()


def test_a_duplicate_task_does_not_run_the_import_twice(start, login, agent, tenant_a, monkeypatch):
    client = login(agent)
    job = uploaded(client, csv_bytes(*GOOD))
    start(client, job, form(job))
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    calls = []
    monkeypatch.setattr(import_jobs, "invoices_import", lambda **kw: calls.append(kw))
    assert import_run(job_id=job.pk, tenant_id=tenant_a.pk) == ImportStatus.DONE
    assert calls == []


def test_a_running_job_whose_worker_went_silent_is_taken_again(agent, tenant_a, login):
    client = login(agent)
    job = uploaded(client, csv_bytes(*GOOD))
    with scopes_disabled():
        ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING)
        job.refresh_from_db()
        # Progress published a moment ago: a live worker has it; a redelivery leaves it.
        _progress_publish(job, 1, 4, "checking")
        assert import_job_run(job=job).status == ImportStatus.RUNNING
        import_jobs.caches["progress"].delete(import_jobs._progress_key(job))
        assert import_job_run(job=job).status == ImportStatus.DONE
        assert Invoice.objects.filter(tenant=tenant_a).count() == 2


def test_roles_and_tenants(login, agent, viewer, outsider):
    job = uploaded(login(agent), csv_bytes(*GOOD))
    for path in ("/imports/", f"/imports/{job.pk}/"):
        assert login(viewer).get(path).status_code == 403
    assert login(viewer).post("/imports/", {}).status_code == 403
    for path in (f"/imports/{job.pk}/", f"/imports/{job.pk}/status/"):
        assert login(outsider).get(path).status_code == 404
    assert login(outsider).post(f"/imports/{job.pk}/", form(job)).status_code == 404


def test_the_model_spreadsheet_maps_every_field_and_its_example_is_valid(start, login, agent):
    client = login(agent)
    assert 'href="/imports/template.csv"' in client.get("/imports/").content.decode()
    model = client.get("/imports/template.csv")
    assert "attachment" in model["Content-Disposition"]
    job = uploaded(client, model.content, "modelo-faturas.csv")
    assert set(job.mapping) == set(import_jobs.FIELDS)
    start(client, job, form(job))
    job.refresh_from_db()
    assert (job.status, job.created) == (ImportStatus.DONE, 1)


def test_upkeep_resends_lost_jobs_and_forgets_old_files(start, login, agent, tenant_a):
    client = login(agent)
    now = timezone.now()
    lost = uploaded(client, csv_bytes(*GOOD))
    draft = uploaded(client, csv_bytes(*GOOD))
    refused = uploaded(client, csv_bytes(GOOD[0], BAD))
    start(client, refused, form(refused))
    with scopes_disabled():
        # A job queued 20 minutes ago whose task never arrived…
        ImportJob.objects.filter(pk=lost.pk).update(
            status=ImportStatus.QUEUED, created_at=now - timedelta(minutes=20)
        )
        # …a draft and a refused import left for eight days.
        eight_days = now - timedelta(days=8)
        ImportJob.objects.filter(pk__in=[draft.pk, refused.pk]).update(created_at=eight_days)
    assert imports_upkeep() == {"resent": 1, "drafts_deleted": 1, "files_dropped": 1}
    with scopes_disabled():
        lost.refresh_from_db()
        refused.refresh_from_db()
        assert lost.status == ImportStatus.DONE  # the task sent again ran it (eager)
        assert not ImportJob.objects.filter(pk=draft.pk).exists()
        assert not refused.file and refused.errors_report  # the report stays
    page = client.get(f"/imports/{refused.pk}/").content.decode()
    assert 'name="valid_only_now"' not in page
    start(client, refused, {"valid_only_now": "1"})
    assert "não é mais guardado" in client.get("/imports/").content.decode()


US_HEADER = "Código;Código cliente;Valor;Emissão;Vencimento"


def test_an_ambiguous_date_column_is_asked_for_with_both_readings_and_remembered(
    start, login, agent, tenant_a
):
    client = login(agent)
    # Every date fits day first and month first: the screen asks, it does not guess.
    lines = [
        US_HEADER,
        "A-1;K-1;10,00;03/04/2026;05/06/2026",
        "A-2;K-2;20,00;01/02/2026;02/03/2026",
    ]
    job = uploaded(client, ("\n".join(lines) + "\n").encode())
    assert job.date_format == "auto"
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert 'name="date_format" value="auto" checked' in page
    assert page.count('class="ask"') == 2  # Emissão and Vencimento, each asked for
    assert "dia ou mês primeiro? Escolha o formato das datas acima." in page
    assert "01/02/2026 → 1 de fevereiro de 2026 (dia/mês) ou 2 de janeiro de 2026 (mês/dia)" in page
    # Unread until chosen: the preview's date cells say so.
    assert "Dia ou mês primeiro? Escolha o formato das datas." in page
    # Starting without choosing is refused, naming the column, beside the date format.
    answer = start(client, job, form(job))
    assert answer.status_code == 400
    refused = answer.content.decode()
    fieldset = re.search(r'<fieldset id="date-format"[^>]*>(.*?)</fieldset>', refused, re.S)
    assert 'aria-describedby="date-format-errors"' in fieldset.group(0)
    errors = re.search(r'id="date-format-errors"[^>]*>(.*?)</ul>', fieldset.group(1), re.S)
    assert "Todas as datas de “Vencimento” podem ser lidas" in errors.group(1)
    chosen = re.search(r'<input[^>]*name="date_format" value="auto"[^>]*>', refused).group(0)
    assert "checked" in chosen and 'aria-invalid="true"' in chosen and "autofocus" in chosen
    job.refresh_from_db()
    assert job.status == ImportStatus.DRAFT
    # Choosing month first redraws the preview (HTMX) with the dates read that way.
    part = client.post(f"/imports/{job.pk}/preview/", form(job, date_format="mdy")).content
    part = part.decode()
    assert 'role="alert"' not in part and "04/03/2026" in part and "06/05/2026" in part
    part = client.post(f"/imports/{job.pk}/preview/", form(job, date_format="dmy")).content
    assert "03/04/2026" in part.decode()
    start(client, job, form(job, date_format="mdy"))
    job.refresh_from_db()
    assert (job.status, job.date_format) == (ImportStatus.DONE, "mdy")
    with scopes_disabled():
        assert Invoice.objects.get(tenant=tenant_a, external_id="A-1").due_date.month == 5
    # The next file with the same columns gets the choice proposed.
    again = uploaded(client, ("\n".join([lines[0], "A-3;K-3;5,00;01/02/2026;02/03/2026"])).encode())
    assert again.date_format == "mdy"
    assert (
        'name="date_format" value="mdy" checked'
        in client.get(f"/imports/{again.pk}/").content.decode()
    )
    # …but not for a file whose dates say otherwise.
    other = uploaded(client, ("\n".join([lines[0], "A-4;K-4;5,00;25/02/2026;26/03/2026"])).encode())
    assert other.date_format == "auto"


def test_the_result_page_lists_the_first_errors_and_links_to_the_imported_invoices(
    start, login, agent, tenant_a, tenant_b, outsider
):
    client = login(agent)
    bad = [f"E-{n};NF;abc;16/11/2026;16/12/2026;C-9;Zé;;;" for n in range(25)]
    job = uploaded(client, csv_bytes(*GOOD, *bad))
    start(client, job, form(job, mode="valid_only"))
    job.refresh_from_db()
    assert (job.status, job.imported, job.rows_with_errors) == (ImportStatus.DONE, 2, 25)
    page = client.get(f"/imports/{job.pk}/").content.decode()
    # The first 20 errors inline, cell by cell; the report has all 25.
    assert "Os primeiros 20 erros" in page
    assert page.count("data-error-row=") == 20
    first = (
        '<tr data-error-row="4"><td class="num">4</td><td class="field">Valor</td>'
        '<td class="error">“abc” não é um valor escrito como os desta coluna (1.234,50).</td>'
    )
    assert first in page
    report = client.get(f"/imports/{job.pk}/errors.csv").content.decode("utf-8-sig")
    assert len(report.splitlines()) == 26
    # The imported invoices, one click away.
    link = f"/invoices/?status=all&amp;import={job.pk}"
    assert link in page
    listing = client.get(link.replace("&amp;", "&")).content.decode()
    assert "Faturas gravadas pela importação de “faturas.csv”" in listing
    assert "NF-1" in listing and "NF-2" in listing
    with scopes_disabled():
        other = InvoiceFactory(
            tenant=tenant_a, external_id="NOT-IMPORTED", due_date=date(2026, 12, 20)
        )
    assert other.number not in client.get(link.replace("&amp;", "&")).content.decode()
    # Another tenant's import lists nothing of either tenant.
    foreign = login(outsider).get(link.replace("&amp;", "&")).content.decode()
    assert "NF-1" not in foreign and "Faturas gravadas" not in foreign
