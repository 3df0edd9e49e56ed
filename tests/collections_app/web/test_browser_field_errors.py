"""In Chromium, at desktop and phone sizes: a form that did not go through shows each error
right below its field, in pt-BR, and a screen reader reads it with the field (its accessible
description); nothing is shown as a message at the top of the page. Screenshots are kept."""

import re
from decimal import Decimal

import pytest

from tenants.models import Role
from tests.browser import expect, log_in, screenshot
from tests.collections_app.factories import InvoiceFactory
from tests.tenants.factories import MembershipFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def below(page, field, error) -> None:
    """The error sits under its field: starting within 40 px below it, overlapping it
    horizontally."""
    f, e = field.bounding_box(), error.bounding_box()
    assert f and e, (f, e)
    assert 0 <= e["y"] - (f["y"] + f["height"]) <= 40, (f, e)
    assert e["x"] < f["x"] + f["width"] and f["x"] < e["x"] + e["width"], (f, e)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_holiday_and_agreement_errors_sit_beside_their_fields(
    live_server, sized_page, tenant_a, size
):
    page = sized_page
    admin = MembershipFactory(tenant=tenant_a, role=Role.ADMIN).user
    log_in(page, live_server, admin)

    page.goto(f"{live_server.url}/settings/company/")
    page.get_by_label("Nome", exact=True).fill("Padroeira")
    page.get_by_role("button", name="Adicionar feriado").click()
    date = page.locator("#holiday_date")
    expect(date).to_have_attribute("aria-invalid", "true")
    expect(date).to_have_accessible_description("Escolha a data do feriado.")
    below(page, date, page.locator("#holiday_date-error"))
    expect(page.locator("#holiday_name")).to_have_value("Padroeira")
    assert page.locator(".flash-error").count() == 0
    screenshot(page, f"field-error-holiday-{size}")

    invoice = InvoiceFactory(tenant=tenant_a, amount=Decimal("500.00"))
    page.goto(f"{live_server.url}/invoices/{invoice.pk}/")
    page.locator("#ag-total").fill("1,234")
    page.get_by_role("button", name="Criar acordo").click()
    total = page.locator("#ag-total")
    expect(total).to_have_attribute("aria-invalid", "true")
    expect(total).to_have_accessible_description(re.compile("pode ser lido de dois jeitos"))
    below(page, total, page.locator("#ag-total-errors"))
    expect(total).to_have_value("1,234")  # what was typed stays
    expect(total).to_be_focused()  # the field to fix
    assert "Invalid" not in page.content() and page.locator(".flash-error").count() == 0
    screenshot(page, f"field-error-agreement-{size}")


@pytest.mark.parametrize("size", ["phone"])
def test_a_refused_import_mapping_tells_the_column_beside_its_select_on_a_phone(
    live_server, sized_page, tenant_a, agent, size, tmp_path
):
    sheet = tmp_path / "faturas.csv"
    sheet.write_text(
        "Código;Valor;Emissão;Vencimento;Código cliente;Cliente\n"
        "F-1;1.234,50;16/11/2026;16/12/2026;C-1;Maria Souza\n"
    )
    page = sized_page
    log_in(page, live_server, agent)
    page.goto(f"{live_server.url}/imports/")
    page.get_by_label("Planilha (CSV ou XLSX)").set_input_files(str(sheet))
    page.get_by_role("button", name="Enviar").click()
    page.get_by_role("heading", name="Qual coluna tem cada campo?").wait_for()
    # The due date read from the amount's column: an amount and a date cannot share one.
    page.locator("#map-due_date").select_option(label="Valor")
    page.get_by_role("button", name="Verificar e importar").click()
    due = page.locator("#map-due_date")
    expect(due).to_have_attribute("aria-invalid", "true")
    message = "“Valor” e “Vencimento” não podem vir da mesma coluna (“Valor”)."
    expect(due).to_have_accessible_description(message)
    below(page, due, page.locator("#map-due_date-errors"))
    expect(due).to_be_focused()
    expect(due.locator("option:checked")).to_have_text("Valor")  # the choice stays
    expect(page.locator("#map-due_date-errors")).to_have_css("color", "rgb(185, 28, 28)")
    assert page.locator(".flash-error").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, f"field-error-import-mapping-{size}")
