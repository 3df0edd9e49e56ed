"""Under the Content-Security-Policy, Chromium blocks nothing on the team's pages and the
payment page: no console report of a refused script or style, and the behaviours that used to
be inline still work (the language selector, htmx's live search). Then the login lockout as a
person sees it."""

from datetime import timedelta

import pytest

from tenants.selectors import tenant_today
from tests.browser import log_in, submit_login
from tests.collections_app.factories import InvoiceFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def desk(desktop_page):
    """A desktop page that keeps, in `page.refused`, each console report of the policy."""
    page = desktop_page
    page.refused = []
    page.on(
        "console",
        lambda msg: (
            page.refused.append(f"{page.url} {msg.text}")
            if "Content Security Policy" in msg.text
            else None
        ),
    )
    return page


def test_pages_work_under_the_policy(live_server, desk, tenant_a, owner):
    invoice = InvoiceFactory(
        tenant=tenant_a,
        due_date=tenant_today(tenant=tenant_a) - timedelta(days=10),
        customer={"external_id": "ACME", "name": "Acme Ltda"},
    )
    page = desk
    log_in(page, live_server, owner)
    assert page.get_by_role("heading", name="Visão geral").is_visible()

    page.goto(f"{live_server.url}/invoices/")
    page.locator("#q").fill("Acme")
    page.wait_for_url("**/invoices/?q=Acme*")  # htmx searched and pushed the URL
    assert "Acme Ltda" in page.locator("#rows").inner_text()

    for path in ("/settings/", "/settings/team/", "/api/docs/", f"/p/{invoice.payment_token}"):
        page.goto(f"{live_server.url}{path}")

    page.goto(f"{live_server.url}/")
    with page.expect_navigation():
        page.locator("#language").select_option("en")  # submits its form from static/js
    assert page.get_by_role("heading", name="Overview").is_visible()
    assert page.refused == []


def test_a_person_sees_the_lockout_message(live_server, desk, owner):
    page = desk
    for _ in range(5):
        submit_login(page, live_server, owner, "senha-errada-1")
    submit_login(page, live_server, owner)
    assert page.get_by_text(
        "Muitas tentativas de entrada. Tente de novo em 15 minutos."
    ).is_visible()
    assert page.url.endswith("/accounts/login/")
    assert page.refused == []
