"""In Chromium, at desktop and phone sizes: the overdue queue with its count and total, each
row's days late, last contact, next step and badges; an agent selects two rows and pauses
their reminders in one go; the customer list. Screenshots are kept as artifacts."""

from datetime import timedelta

import pytest
from django_scopes import scope, scopes_disabled

from collections_app.activity.agent_actions import note_record
from collections_app.models import Invoice
from collections_app.payments.promises import promise_create
from tenants.selectors import tenant_today
from tests.browser import log_in, screenshot
from tests.collections_app.factories import InvoiceFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def queue(tenant, agent):
    today = tenant_today(tenant=tenant)
    rows = [
        InvoiceFactory(
            tenant=tenant,
            due_date=today - timedelta(days=days),
            amount=amount,
            number=f"NF-2026-{days:04d}",
            customer={"external_id": name, "name": name, "document": doc},
        )
        for days, amount, name, doc in [
            (20, "2500.00", "Acme Comércio de Alimentos Ltda", "11222333000181"),
            (12, "890.50", "Maria das Dores Silva", "52998224725"),
            (4, "150.00", "Padaria Pão Quente", ""),
        ]
    ]
    rows[1].disputed = True
    with scopes_disabled():
        Invoice.objects.filter(pk=rows[1].pk).update(disputed=True)
    with scope(tenant=tenant):
        promise_create(
            tenant=tenant, invoice=rows[0], promised_date=today + timedelta(days=4), today=today
        )
        note_record(
            tenant=tenant,
            customer_id=rows[2].customer_id,
            actor=agent,
            text="Cliente pediu o boleto de novo",
            invoice=rows[2],
        )
    return rows


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_queue_and_a_bulk_pause(live_server, sized_page, tenant_a, agent, size):
    page = sized_page
    rows = queue(tenant_a, agent)
    log_in(page, live_server, agent)
    page.goto(f"{live_server.url}/invoices/")

    summary = page.locator("[data-queue-summary]").inner_text()
    assert summary == "3 faturas · R$ 3.540,50 em aberto"
    first = page.locator(f'[data-invoice-row="{rows[0].pk}"]')
    assert "Vencida" in first.inner_text() and "Promessa" in first.inner_text()
    assert "Contestada" in page.locator(f'[data-invoice-row="{rows[1].pk}"]').inner_text()
    assert "Anotação" in page.locator(f'[data-invoice-row="{rows[2].pk}"]').inner_text()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"]
    screenshot(page, f"queue-{size}")

    page.select_option("#bulk-action", "pause")
    until = tenant_today(tenant=tenant_a) + timedelta(days=5)
    page.fill("#bulk-until", until.isoformat())
    for invoice in rows[:2]:
        page.check(f'input[name="ids"][value="{invoice.pk}"]')
    assert page.locator("[data-bulk-count]").inner_text() == "(2)"
    page.get_by_role("button", name="Aplicar").click()
    page.wait_for_load_state()
    assert "Lembretes pausados em 2 faturas." in page.content()
    with scopes_disabled():
        paused = set(Invoice.objects.filter(paused_until=until).values_list("pk", flat=True))
    assert paused == {rows[0].pk, rows[1].pk}

    page.goto(f"{live_server.url}/customers/")
    text = page.locator("table.customers").inner_text()
    assert "11.222.333/0001-81" in text and "R$ 2.500,00" in text
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"]
    screenshot(page, f"customers-{size}")
