"""The finance team's main flows in Chromium: log in, read the overview, work a task from the
queue, record a call on the invoice. Screenshots are kept as artifacts."""

from datetime import timedelta

import pytest
from django_scopes import scope

from collections_app.models import FollowUpTask, Interaction, TaskStatus
from tenants.selectors import tenant_today
from tests.browser import log_in, screenshot
from tests.collections_app.factories import InvoiceFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_an_agent_logs_in_reads_the_overview_and_works_a_task(
    live_server, desktop_page, tenant_a, agent
):
    today = tenant_today(tenant=tenant_a)
    invoice = InvoiceFactory(
        tenant=tenant_a,
        due_date=today - timedelta(days=20),
        amount="2500.00",
        customer={"external_id": "ACME", "name": "Acme Ltda", "phone": "+5511988887777"},
    )
    with scope(tenant=tenant_a):
        task = FollowUpTask.objects.create(
            tenant=tenant_a,
            customer=invoice.customer,
            invoice=invoice,
            title="Ligar para a Acme",
            due_on=today,
            assignee=agent,
        )
    page = desktop_page
    log_in(page, live_server, agent)
    assert page.get_by_role("heading", name="Visão geral").is_visible()
    assert page.locator('[data-metric="overdue_amount"] .value').inner_text() == "R$ 2.500,00"
    assert page.locator('svg[data-chart="aging"]').is_visible()
    screenshot(page, "dashboard-overview")

    page.get_by_role("link", name="Minhas tarefas").click()
    row = page.locator(f"#task-{task.pk}")
    assert "Ligar para a Acme" in row.inner_text()
    screenshot(page, "dashboard-my-tasks")
    row.get_by_role("link", name=str(invoice)).click()
    page.get_by_text("Registrar uma ligação").click()
    page.get_by_label("Falou com o cliente").check()
    page.get_by_label("Observações").fill("Vai pagar sexta")
    page.get_by_role("button", name="Salvar ligação").click()
    page.get_by_text("Ligação registrada.").wait_for()
    assert page.get_by_text("Falou com o cliente: Vai pagar sexta").first.is_visible()
    screenshot(page, "dashboard-invoice-call")

    page.get_by_role("link", name="Minhas tarefas").click()
    page.locator(f"#task-{task.pk}").get_by_role("button", name="Concluída").click()
    page.locator(f"#task-{task.pk}").wait_for(state="detached")  # HTMX took the row away
    with scope(tenant=tenant_a):
        task.refresh_from_db()
        calls = Interaction.objects.filter(invoice=invoice, kind="call").count()
    assert task.status == TaskStatus.DONE and calls == 1
