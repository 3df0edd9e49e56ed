"""The bank page in Chromium at desktop and phone sizes: a real Bradesco return file uploaded,
its payments counted, the record that was not a payment named, the credits nobody's invoice
matched waiting in the review queue."""

import pytest
from django_scopes import scope

from collections_app.models import BankCredit, CreditStatus
from tests.browser import log_in, screenshot
from tests.paths import FIXTURES

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BRADESCO = FIXTURES / "bank_files" / "cnab400" / "bradesco.ret"
# How many lines the text of an element takes on the screen.
TEXT_LINES = """el => {
    const range = document.createRange();
    range.selectNodeContents(el);
    return new Set(Array.from(range.getClientRects(), r => Math.round(r.top))).size;
}"""


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_an_agent_imports_a_bank_return_file(live_server, sized_page, tenant_a, agent, size):
    page = sized_page
    log_in(page, live_server, agent)
    page.goto(f"{live_server.url}/bank/")
    page.get_by_label("Arquivo de retorno bancário").set_input_files(str(BRADESCO))
    page.get_by_role("button", name="Importar").click()
    page.wait_for_load_state()
    text = page.locator("main").inner_text()
    assert "6 créditos lidos" in text
    assert "1 registro não era pagamento: 02 (Entrada confirmada) ×1." in text
    with scope(tenant=tenant_a):
        waiting = BankCredit.objects.filter(status=CreditStatus.UNMATCHED).count()
    assert waiting == 6  # no invoice of this tenant carries Bradesco's nossos números
    rows = page.locator("table").first.locator("tbody tr")
    assert rows.count() == 6
    # Nothing sticks out of the screen sideways, and no column is squeezed to a few letters: a
    # date and an amount stay on one line (on a phone each credit is a card).
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth + 1")
    screenshot(page, f"bank-imported-{size}")
    first = rows.first.locator("td")
    for cell in (first.nth(0), first.nth(1)):
        assert cell.evaluate(TEXT_LINES) == 1, cell.inner_text()
