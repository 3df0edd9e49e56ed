"""The payment page in Chromium on a phone: it renders, the Pix code copies, and a promise to
pay pauses the ladder and shows in the team's timeline. Screenshots are kept as artifacts."""

from datetime import timedelta

import pytest
from django_scopes import scope

from collections_app.engine import ladder_evaluate
from collections_app.models import Dispatch, PaymentPromise
from collections_app.payments.pix import brcode_parse
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
    today = tenant_today(tenant=tenant_a)
    return InvoiceFactory(
        tenant=tenant_a,
        due_date=today - timedelta(days=12),
        amount="1234.50",
        customer={
            "external_id": "MARIA",
            "name": "Maria Souza",
            "document": "52998224725",
            "email": "maria@example.com",
            "phone": "+5511987654321",
        },
    )


def test_the_page_renders_on_a_phone_and_the_pix_code_copies(live_server, page, debt):
    page.goto(f"{live_server.url}/p/{debt.payment_token}")
    assert page.get_by_role("heading", name=f"Fatura {debt.number}").is_visible()
    assert page.locator("[data-amount-due]").inner_text().startswith("R$ 1.2")
    assert page.get_by_text("Multa por atraso (2%)").is_visible()
    # One column, nothing wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    code = page.locator("[data-pix-code]").inner_text().strip()
    assert brcode_parse(code)["62.05"] == debt.pix_txid
    assert page.locator(".qr svg").is_visible()
    screenshot(page, "payment-page-phone")

    button = page.get_by_role("button", name="Copiar código Pix")
    button.click()
    page.get_by_role("button", name="Copiado!").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == code
    screenshot(page, "payment-page-pix-copied")


def test_a_promise_from_the_page_pauses_the_ladder_and_reaches_the_timeline(
    live_server, page, browser, debt, tenant_a, owner
):
    today = tenant_today(tenant=tenant_a)
    promised = today + timedelta(days=6)
    page.goto(f"{live_server.url}/p/{debt.payment_token}")
    page.get_by_text("Preciso de mais prazo").click()
    page.get_by_label("Vou pagar até").fill(promised.isoformat())
    screenshot(page, "payment-page-promise-form")
    page.get_by_role("button", name="Confirmar data").click()
    page.get_by_text(f"aguardaremos o seu pagamento até {promised:%d/%m/%Y}").wait_for()
    assert page.get_by_text(f"Você prometeu pagar até {promised:%d/%m/%Y}").is_visible()
    screenshot(page, "payment-page-promise-done")

    with scope(tenant=tenant_a):
        promise = PaymentPromise.objects.get(invoice=debt)
        assert promise.source == "debtor" and promise.promised_date == promised
        # The ladder is paused: the overdue steps until the promised date send nothing.
        for offset in range(1, 6):
            ladder_evaluate(tenant=tenant_a, today=today + timedelta(days=offset))
        sent = Dispatch.objects.filter(invoice=debt, status="sent", scheduled_for__gt=today)
        assert not sent.exists()

    # The team sees it in the invoice's timeline.
    team = browser.new_context(viewport={"width": 1280, "height": 900}, locale="pt-BR")
    agent_page = team.new_page()
    try:
        agent_page.goto(f"{live_server.url}/accounts/login/")
        agent_page.get_by_label("E-mail").fill(owner.email)
        agent_page.get_by_label("Senha").fill("senha-segura-123")
        agent_page.get_by_role("button", name="Entrar").click()
        agent_page.goto(f"{live_server.url}/invoices/{debt.pk}/")
        entry = agent_page.get_by_text(f"Promessa de pagamento para {promised:%d/%m/%Y}")
        entry.first.wait_for()
        screenshot(agent_page, "invoice-timeline-promise")
    finally:
        team.close()
