"""Importing a spreadsheet in Chromium: upload, the preview redrawn as a column is chosen,
all-or-nothing refusing a file with a bad row, then its valid rows imported on request, with
the error report to download; and IBM's accounts-receivable sample imported as it is, at
desktop and phone sizes, every row then checked in the database."""

import re

import pytest
from django_scopes import scopes_disabled

from collections_app.models import ImportJob, ImportStatus, Invoice
from tests.browser import log_in, new_page, screenshot
from tests.collections_app.imports.test_import import GOOD, csv_bytes
from tests.collections_app.imports.test_import_ibm import IBM, assert_every_row_landed
from tests.collections_app.imports.test_import_ui import BAD
from tests.conftest import require_service

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def phone_screenshot(browser, live_server, user, url: str, ready: str, name: str) -> None:
    """The same page on a phone, once `ready` shows, kept as `<name>-phone.png`."""
    page = new_page(browser, "phone")
    log_in(page, live_server, user)
    page.goto(url)
    page.locator(ready).first.wait_for()
    screenshot(page, f"{name}-phone")
    page.context.close()


def test_an_agent_imports_a_spreadsheet_with_a_preview_and_an_error_report(
    live_server, browser, tenant_a, agent, tmp_path
):
    page = new_page(browser, "desktop", accept_downloads=True)
    log_in(page, live_server, agent)
    page.get_by_role("link", name="Importar", exact=True).click()
    assert page.get_by_role("heading", name="Importar faturas").is_visible()
    sheet = tmp_path / "faturas-novembro.csv"
    sheet.write_bytes(csv_bytes(GOOD[0], BAD, GOOD[1]))
    page.get_by_label("Planilha (CSV ou XLSX)").set_input_files(str(sheet))
    page.get_by_role("button", name="Enviar").click()
    page.get_by_role("heading", name="Qual coluna tem cada campo?").wait_for()

    preview = page.locator("#preview")
    assert "R$ 1.234,50" in preview.inner_text()
    assert preview.locator("td.cell-error").count() >= 4  # the bad row, cell by cell
    screenshot(page, "import-mapping")
    # Choosing another column for the amount redraws the preview (HTMX).
    page.get_by_label("Valor *").select_option(label="Número")
    # Locator waits, not wait_for_function: the Content-Security-Policy forbids its eval.
    page.locator('#preview tr[data-row="2"] td.cell-error').first.wait_for(state="attached")
    page.get_by_label("Valor *").select_option(label="Valor")
    page.locator('#preview tr[data-row="2"] td.cell-error').first.wait_for(state="detached")

    page.get_by_role("button", name="Verificar e importar").click()
    page.get_by_text("Nada foi importado: 1 linha tem erros.").wait_for()
    with scopes_disabled():
        assert not Invoice.objects.filter(tenant=tenant_a).exists()
    with page.expect_download() as download:
        page.get_by_role("link", name="Baixar o relatório de erros (CSV)").click()
    report = download.value.path().read_bytes().decode("utf-8-sig")
    assert report.splitlines()[1].startswith("3;F-3;NF-3;abc")
    assert page.locator("tr[data-error-row]").count() == 5  # listed inline, cell by cell
    screenshot(page, "import-refused")
    phone_screenshot(browser, live_server, agent, page.url, "tr[data-error-row]", "import-refused")

    page.get_by_role("button", name="Importar as 2 linhas válidas").click()
    page.get_by_text("2 faturas importadas: 2 novas, 0 atualizadas.").wait_for()
    with scopes_disabled():
        assert ImportJob.objects.get().status == ImportStatus.DONE
        assert Invoice.objects.filter(tenant=tenant_a).count() == 2
    screenshot(page, "import-done")
    page.context.close()


def test_an_agent_imports_ibms_file_as_it_is_and_every_row_lands(
    live_server, browser, tenant_a, agent
):
    """The IBM sample through the dashboard: upload, the proposed mapping confirmed, the date
    format chosen once, the import run; then every row of the file checked in the database."""
    require_service(IBM.is_file(), f"{IBM} is missing (see shared/data/README.md)")
    page = new_page(browser, "desktop")
    log_in(page, live_server, agent)
    page.get_by_role("link", name="Importar", exact=True).click()
    page.get_by_label("Planilha (CSV ou XLSX)").set_input_files(str(IBM))
    page.get_by_role("button", name="Enviar").click()
    page.get_by_role("heading", name="Qual coluna tem cada campo?").wait_for()

    # The proposed mapping: each field on the column the file names for it.
    for label, header in [
        ("Id da fatura no seu sistema *", "invoiceNumber"),
        ("Número da fatura", "invoiceNumber"),
        ("Valor *", "InvoiceAmount"),
        ("Data de emissão *", "InvoiceDate"),
        ("Vencimento *", "DueDate"),
        ("Id do cliente no seu sistema *", "customerID"),
        ("Nome do cliente *", "customerID"),
        ("Data de pagamento", "SettledDate"),
        ("Contestada", "Disputed"),
    ]:
        select = page.get_by_label(label, exact=True)
        assert select.locator("option:checked").inner_text() == header, label
    dates = page.locator(".date-columns")
    assert dates.locator("li").count() == 3
    assert dates.inner_text().count("mês/dia/ano · conforme as datas da coluna") == 3
    # The date format, chosen once for every date column.
    page.get_by_label("mês/dia/ano", exact=True).check()
    page.locator(".date-columns", has_text="conforme as datas").wait_for(state="detached")
    first = page.locator('#preview tr[data-row="2"]').inner_text()
    assert "R$ 55,94" in first and "01/02/2013" in first and "15/01/2013" in first
    screenshot(page, "import-ibm-mapping-desktop")
    phone_page = new_page(browser, "phone")
    log_in(phone_page, live_server, agent)
    phone_page.goto(page.url)
    phone_page.get_by_role("heading", name="Qual coluna tem cada campo?").wait_for()
    screenshot(phone_page, "import-ibm-mapping-phone")

    page.get_by_role("button", name="Verificar e importar").click()
    page.get_by_text(re.compile(r"2\.?466 faturas importadas: 2\.?466 novas")).wait_for(
        timeout=120_000
    )
    assert "2466 pagamentos registrados pelas datas de pagamento" in page.inner_text("main")
    screenshot(page, "import-ibm-result-desktop")
    phone_page.goto(page.url)
    phone_page.get_by_role("link", name="Ver as faturas importadas").wait_for()
    screenshot(phone_page, "import-ibm-result-phone")

    with scopes_disabled():
        job = ImportJob.objects.get(tenant=tenant_a)
    assert job.date_format == "mdy"
    assert_every_row_landed(tenant_a, job, IBM.read_bytes())

    page.get_by_role("link", name="Ver as faturas importadas").click()
    page.get_by_text("Faturas gravadas pela importação de “accounts_receivable_ibm.csv”").wait_for()
    assert page.locator("#rows tbody tr").count() == 25  # the first page of 2,466
    phone_page.context.close()
    page.context.close()


def test_an_ambiguous_date_column_is_asked_for_once_and_the_preview_follows(
    live_server, browser, tenant_a, agent, tmp_path
):
    sheet = tmp_path / "us-export.csv"
    sheet.write_text(  # a US export: every date fits both readings
        "InvoiceNumber,CustomerID,InvoiceAmount,InvoiceDate,DueDate\n"
        'INV-1,C-1,"1,234.50",3/4/2026,4/3/2026\n'
        "INV-2,C-2,99.90,1/2/2026,2/1/2026\n"
    )
    page = new_page(browser, "desktop")
    log_in(page, live_server, agent)
    page.goto(f"{live_server.url}/imports/")
    page.get_by_label("Planilha (CSV ou XLSX)").set_input_files(str(sheet))
    page.get_by_role("button", name="Enviar").click()
    page.get_by_role("heading", name="Qual coluna tem cada campo?").wait_for()
    asking = page.locator(".date-columns li.ask")
    assert asking.count() == 2
    assert "1/2/2026 → 1 de fevereiro de 2026 (dia/mês) ou 2 de janeiro de 2026 (mês/dia)" in (
        asking.first.inner_text()
    )
    assert "Dia ou mês primeiro?" in page.locator("#preview table").inner_text()
    screenshot(page, "import-ambiguous-desktop")
    phone_screenshot(
        browser, live_server, agent, page.url, ".date-columns li.ask", "import-ambiguous"
    )

    page.get_by_label("mês/dia/ano", exact=True).check()
    page.locator(".date-columns li.ask").first.wait_for(state="detached")
    row = page.locator('#preview tr[data-row="2"]').inner_text()
    assert "04/03/2026" in row and "03/04/2026" in row and "R$ 1.234,50" in row
    page.get_by_role("button", name="Verificar e importar").click()
    page.get_by_text("2 faturas importadas: 2 novas, 0 atualizadas.").wait_for()
    with scopes_disabled():
        assert Invoice.objects.get(external_id="INV-1").due_date.isoformat() == "2026-04-03"
    page.context.close()
