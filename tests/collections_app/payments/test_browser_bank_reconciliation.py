"""In Chromium at desktop and phone sizes: a statement is imported, one credit is matched by
amount and date, another waits in review with its likely invoices; the agent picks the first
suggestion, sees it among the matched credits with its rule, and opens the file."""

from datetime import timedelta

import pytest
from django_scopes import scope

from collections_app.models import BankCredit, CreditStatus
from tests.browser import log_in, screenshot
from tests.collections_app.factories import InvoiceFactory
from tests.collections_app.payments.test_bank_reconciliation import ofx

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_an_agent_resolves_a_credit_from_its_suggestions(
    live_server, sized_page, tenant_a, agent, size, tmp_path
):
    from tenants.selectors import tenant_today

    today = tenant_today(tenant=tenant_a)
    paid = InvoiceFactory(tenant=tenant_a, due_date=today, amount="275.50")
    wanted = InvoiceFactory(
        tenant=tenant_a,
        due_date=today + timedelta(days=20),
        amount="1480.00",
        customer={"external_id": "MC", "name": "Mercearia Conceição Ltda"},
    )
    InvoiceFactory(tenant=tenant_a, due_date=today - timedelta(days=60), amount="1500.00")
    InvoiceFactory(tenant=tenant_a, due_date=today, amount="1390.00")
    day = today.strftime("%Y%m%d")
    statement = tmp_path / "extrato-dezembro.ofx"
    statement.write_bytes(
        ofx(
            ("F1", "275.50", day, "TED RECEBIDA"),
            ("F2", "1480.00", day, "PIX RECEBIDO MERCEARIA CONCEICAO LTDA"),
        )
    )
    page = sized_page
    log_in(page, live_server, agent)
    page.goto(f"{live_server.url}/bank/")
    page.get_by_label("Arquivo de retorno bancário").set_input_files(str(statement))
    page.get_by_role("button", name="Importar").click()
    page.wait_for_load_state()
    with scope(tenant=tenant_a):
        waiting = BankCredit.objects.get(status=CreditStatus.UNMATCHED)
    suggestions = page.locator(f'[data-suggestions="{waiting.pk}"]')
    first = suggestions.locator("li.bank-suggestion").first
    assert wanted.number in first.inner_text()
    assert "Valor exato" in first.inner_text()
    assert "Nome do pagador 100% parecido" in first.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth + 1")
    screenshot(page, f"bank-suggestions-{size}")
    first.get_by_role("button").click()
    page.wait_for_load_state()
    matched = page.locator("table.bank-matched tbody")
    assert matched.locator("tr").count() == 2
    text = matched.inner_text()
    assert wanted.number in text and paid.number in text
    assert "Manual" in text and "Valor e data" in text
    assert "Mercearia Conceição Ltda" in text
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth + 1")
    screenshot(page, f"bank-matched-{size}")
    page.get_by_role("link", name="extrato-dezembro.ofx").last.click()
    page.wait_for_load_state()
    assert "Créditos deste arquivo" in page.locator("main").inner_text()
    assert page.locator("table.bank-statement tbody tr").count() == 2
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth + 1")
    screenshot(page, f"bank-file-{size}")
