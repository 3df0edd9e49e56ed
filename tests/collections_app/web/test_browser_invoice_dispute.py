"""In Chromium, at desktop and phone sizes: an agent marks an invoice disputed with a reason,
sees its badge and the promise's, calls from the open task and closes it on the invoice page,
then finds the invoice in the queue's "disputed" filter. Screenshots are kept as artifacts."""

from datetime import timedelta

import pytest
from django_scopes import scope

from collections_app.models import FollowUpTask, TaskStatus
from collections_app.payments.promises import promise_create
from tenants.selectors import tenant_today
from tests.browser import log_in, screenshot
from tests.collections_app.factories import InvoiceFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def invoice_with_promise_and_tasks(tenant, agent):
    today = tenant_today(tenant=tenant)
    invoice = InvoiceFactory(
        tenant=tenant,
        due_date=today - timedelta(days=20),
        amount="2500.00",
        number="NF-2026-0042",
        customer={"external_id": "ACME", "name": "Acme Ltda", "phone": "+5511988887777"},
    )
    with scope(tenant=tenant):
        promise_create(
            tenant=tenant, invoice=invoice, promised_date=today + timedelta(days=4), today=today
        )
        late = FollowUpTask.objects.create(
            tenant=tenant,
            customer_id=invoice.customer_id,
            invoice=invoice,
            title="Ligar para o cliente: fatura 15 dias em atraso",
            due_on=today - timedelta(days=3),
            assignee=agent,
        )
        check = FollowUpTask.objects.create(
            tenant=tenant,
            customer_id=invoice.customer_id,
            invoice=invoice,
            title="Conferir o comprovante enviado pelo cliente",
            origin="payment_claim",
            due_on=today,
        )
    return invoice, late, check


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_dispute_promise_and_tasks_on_the_invoice_page(
    live_server, sized_page, tenant_a, agent, size
):
    page = sized_page
    invoice, late, check = invoice_with_promise_and_tasks(tenant_a, agent)
    log_in(page, live_server, agent)
    page.goto(f"{live_server.url}/invoices/{invoice.pk}/")

    flags = page.locator(".invoice-flags")
    assert flags.locator(".badge.promise").inner_text().startswith("Promessa para ")

    late_item = page.locator(f"#invoice-task-{late.pk}")
    assert late_item.locator(".badge.late").inner_text() == "Tarefa atrasada"
    call = late_item.get_by_role("link", name="Ligar (11) 98888-7777")
    assert call.get_attribute("href") == "tel:+5511988887777"
    assert "R$ 2.500,00" in late_item.inner_text()

    page.get_by_text("Marcar como contestada").first.click()
    page.get_by_label("Por que o cliente contesta").fill(
        "Cliente diz que o serviço de dezembro não foi prestado"
    )
    page.get_by_role("button", name="Marcar como contestada").click()
    page.wait_for_load_state()
    assert flags.locator(".badge.disputed").inner_text() == "Contestada"
    assert "serviço de dezembro não foi prestado" in page.locator(".notice.dispute").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, f"invoice-dispute-promise-tasks-{size}")

    page.locator(f"#invoice-task-{check.pk}").get_by_role("button", name="Concluir").click()
    page.wait_for_url(f"{live_server.url}/invoices/{invoice.pk}/")
    assert page.locator(f"#invoice-task-{check.pk}").count() == 0
    with scope(tenant=tenant_a):
        assert FollowUpTask.objects.get(pk=check.pk).status == TaskStatus.DONE

    page.goto(f"{live_server.url}/invoices/?status=disputed")
    row = page.get_by_role("row").filter(has_text="NF-2026-0042")
    assert row.locator(".badge.disputed").inner_text() == "Contestada"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, f"invoice-queue-disputed-{size}")
