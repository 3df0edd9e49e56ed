"""Importing a spreadsheet in Chromium: upload, the preview redrawn as a column is chosen,
all-or-nothing refusing a file with a bad row, then its valid rows imported on request, with
the error report to download."""

import pytest
from django_scopes import scopes_disabled

from collections_app.models import ImportJob, ImportStatus, Invoice
from tests.test_import import GOOD, csv_bytes
from tests.test_import_ui import BAD

from .browser import screenshot
from .test_browser_dashboard import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_agent_imports_a_spreadsheet_with_a_preview_and_an_error_report(
    live_server, browser, tenant_a, agent, tmp_path
):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="pt-BR", accept_downloads=True
    )
    page = context.new_page()
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
    page.wait_for_function(
        "document.querySelectorAll('#preview tr[data-row=\"2\"] td.cell-error').length > 0"
    )
    page.get_by_label("Valor *").select_option(label="Valor")
    page.wait_for_function(
        "document.querySelectorAll('#preview tr[data-row=\"2\"] td.cell-error').length === 0"
    )

    page.get_by_role("button", name="Verificar e importar").click()
    page.get_by_text("Nada foi importado: 1 linha tem erros.").wait_for()
    with scopes_disabled():
        assert not Invoice.objects.filter(tenant=tenant_a).exists()
    with page.expect_download() as download:
        page.get_by_role("link", name="Baixar o relatório de erros (CSV)").click()
    report = download.value.path().read_bytes().decode("utf-8-sig")
    assert report.splitlines()[1].startswith("3;F-3;NF-3;abc")
    screenshot(page, "import-refused")

    page.get_by_role("button", name="Importar as 2 linhas válidas").click()
    page.get_by_text("2 faturas importadas: 2 novas, 0 atualizadas.").wait_for()
    with scopes_disabled():
        assert ImportJob.objects.get().status == ImportStatus.DONE
        assert Invoice.objects.filter(tenant=tenant_a).count() == 2
    screenshot(page, "import-done")
    context.close()
