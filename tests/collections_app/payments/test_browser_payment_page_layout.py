"""The payment page in Chromium at phone (390×844) and desktop (1366×900) sizes (issue 16): on a
phone "Copiar código Pix" comes before the QR code (a phone cannot scan its own screen), on a
desktop the QR code leads; the amount is valid for today; an instalment lists the agreement's
instalments; the CPF/CNPJ error sits by its field. Screenshots are kept as artifacts."""

from datetime import timedelta

import pytest
from django_scopes import scope

from collections_app.models import Agreement
from tenants.selectors import tenant_today
from tests.browser import screenshot
from tests.collections_app.factories import InvoiceFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def debt(tenant_a):
    tenant_a.pix_key = "financeiro@escolaaurora.com.br"
    tenant_a.merchant_name = "Escola Aurora"
    tenant_a.merchant_city = "Recife"
    tenant_a.save()
    return InvoiceFactory(
        tenant=tenant_a,
        due_date=tenant_today(tenant=tenant_a) - timedelta(days=12),
        amount="1234.50",
        customer={
            "external_id": "MARIA",
            "name": "Maria Souza",
            "document": "52998224725",
            "email": "maria@example.com",
            "phone": "+5511987654321",
        },
    )


def above(page, first: str, second: str) -> bool:
    """Whether `first` starts higher on the page than `second` (both read at once, in page
    coordinates, so a scroll in between changes nothing)."""
    return page.evaluate(
        """([a, b]) => {
            const y = s => document.querySelector(s).getBoundingClientRect().top;
            return y(a) < y(b);
        }""",
        [first, second],
    )


def test_phone_copy_first_desktop_qr_first(live_server, page, desktop_page, debt, tenant_a):
    today = tenant_today(tenant=tenant_a)
    url = f"{live_server.url}/p/{debt.payment_token}"
    page.goto(url)
    copy = page.get_by_role("button", name="Copiar código Pix")
    assert copy.is_visible()
    assert above(page, "button[data-copy-target=pix-code]", ".qr svg")
    assert page.get_by_text(f"Valor válido para pagamento hoje, {today:%d/%m/%Y}").is_visible()
    assert page.get_by_text("contados por dia").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "payment-page-layout-phone")

    # A CPF/CNPJ that does not match: the error shows under the field, not at the top.
    page.get_by_label("digite os 5 primeiros").fill("11111")
    page.get_by_role("button", name="Mostrar").click()
    error = page.locator("#document-notice")
    error.wait_for()
    assert "não confere" in error.inner_text()
    assert above(page, "#document", "#document-notice")
    assert page.locator("ul.notices").count() == 0
    screenshot(page, "payment-page-document-error-phone")

    wide = desktop_page
    wide.goto(url)
    assert above(wide, ".qr svg", "button[data-copy-target=pix-code]")
    assert wide.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(wide, "payment-page-layout-desktop")


def test_an_instalment_page_lists_the_agreement_on_a_phone(live_server, page, client, debt):
    first_due = tenant_today(tenant=debt.tenant) + timedelta(days=5)
    client.post(
        f"/p/{debt.payment_token}/instalments", {"count": "3", "first_due": first_due.isoformat()}
    )
    with scope(tenant=debt.tenant):
        second = Agreement.objects.get().instalments.order_by("due_date")[1]
    page.goto(f"{live_server.url}/p/{second.payment_token}")
    table = page.locator(".pay-instalment-table")
    assert table.is_visible()
    assert table.locator("tbody tr").count() == 3
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    table.scroll_into_view_if_needed()
    screenshot(page, "payment-page-instalment-phone")
