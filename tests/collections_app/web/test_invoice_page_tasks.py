"""The invoice page shows what an agent must know before calling: an open promise as a badge
with its date, the invoice's open tasks (closed right there with `task_close`, the service the
task page uses), a call task's phone number as a tel: link with the amount due, and an overdue
task marked in words."""

import re
from datetime import timedelta

import pytest
from django_scopes import scope, scopes_disabled

from collections_app.models import FollowUpTask, Interaction, TaskStatus
from collections_app.payments.promises import promise_create
from tenants.selectors import tenant_today
from tests.collections_app.factories import FollowUpTaskFactory, InvoiceFactory, customer_of

pytestmark = pytest.mark.django_db


def overdue_invoice(tenant):
    today = tenant_today(tenant=tenant)
    return InvoiceFactory(tenant=tenant, due_date=today - timedelta(days=20), amount="1234.50")


def task_item(page: str, task: FollowUpTask) -> str:
    """The task's item in the page's list of open tasks."""
    match = re.search(rf'<li [^>]*id="invoice-task-{task.pk}".*?</li>', page, re.S)
    assert match, f"task {task.pk} not listed"
    return match.group(0)


def test_an_open_promise_shows_as_a_badge_with_its_date(tenant_a, agent, login):
    invoice = overdue_invoice(tenant_a)
    today = tenant_today(tenant=tenant_a)
    client = login(agent)
    assert 'class="badge promise"' not in client.get(f"/invoices/{invoice.pk}/").content.decode()
    promised = today + timedelta(days=5)
    with scope(tenant=tenant_a):
        promise_create(tenant=tenant_a, invoice=invoice, promised_date=promised, today=today)
    page = client.get(f"/invoices/{invoice.pk}/").content.decode()
    assert f'<span class="badge promise">Promessa para {promised:%d/%m/%Y}</span>' in page


def test_open_tasks_are_listed_and_a_call_shows_the_number_and_the_amount(tenant_a, agent, login):
    invoice = overdue_invoice(tenant_a)
    today = tenant_today(tenant=tenant_a)
    call = FollowUpTaskFactory(
        tenant=tenant_a, invoice=invoice, title="Ligar para o cliente", due_on=today
    )
    check = FollowUpTaskFactory(
        tenant=tenant_a,
        invoice=invoice,
        title="Conferir comprovante",
        origin="payment_claim",
        due_on=today,
    )
    done = FollowUpTaskFactory(
        tenant=tenant_a, invoice=invoice, title="Já feita", status=TaskStatus.DONE, due_on=today
    )
    page = login(agent).get(f"/invoices/{invoice.pk}/").content.decode()
    assert "Tarefas em aberto" in page
    call_item = task_item(page, call)
    assert '<a class="button secondary" href="tel:+5511987654321">Ligar (11) 98765-4321</a>' in (
        call_item
    )
    assert "Valor em aberto: <strong>R$ 1.234,50</strong>" in call_item
    check_item = task_item(page, check)
    assert "tel:" not in check_item  # not a call
    assert "Concluir" in check_item
    assert f'id="invoice-task-{done.pk}"' not in page


def test_an_overdue_task_is_marked_in_words(tenant_a, agent, login):
    invoice = overdue_invoice(tenant_a)
    today = tenant_today(tenant=tenant_a)
    late = FollowUpTaskFactory(tenant=tenant_a, invoice=invoice, due_on=today - timedelta(days=2))
    on_time = FollowUpTaskFactory(tenant=tenant_a, invoice=invoice, due_on=today)
    page = login(agent).get(f"/invoices/{invoice.pk}/").content.decode()
    assert "Tarefa atrasada" in task_item(page, late)
    assert 'class="card late"' in task_item(page, late)
    assert "Tarefa atrasada" not in task_item(page, on_time)


def test_a_task_is_closed_from_the_invoice_page(tenant_a, agent, login):
    invoice = overdue_invoice(tenant_a)
    task = FollowUpTaskFactory(
        tenant=tenant_a, invoice=invoice, title="Ligar", due_on=tenant_today(tenant=tenant_a)
    )
    client = login(agent)
    page = client.get(f"/invoices/{invoice.pk}/").content.decode()
    item = task_item(page, task)
    assert f'action="/tasks/{task.pk}/done/"' in item
    assert f'name="next" value="/invoices/{invoice.pk}/"' in item

    response = client.post(f"/tasks/{task.pk}/done/", {"next": f"/invoices/{invoice.pk}/"})
    assert response.status_code == 302 and response["Location"] == f"/invoices/{invoice.pk}/"
    with scopes_disabled():
        task.refresh_from_db()
        assert task.status == TaskStatus.DONE
        # The task page's service: the same entry, once.
        assert list(
            Interaction.objects.filter(data__task_id=task.pk, data__status="done").values_list(
                "summary", "actor"
            )
        ) == [("Tarefa concluída: Ligar", agent.pk)]
    page = client.get(f"/invoices/{invoice.pk}/").content.decode()
    assert f'id="invoice-task-{task.pk}"' not in page


def test_a_viewer_sees_the_tasks_without_a_button(tenant_a, viewer, login):
    invoice = overdue_invoice(tenant_a)
    task = FollowUpTaskFactory(
        tenant=tenant_a, invoice=invoice, due_on=tenant_today(tenant=tenant_a)
    )
    page = login(viewer).get(f"/invoices/{invoice.pk}/").content.decode()
    assert "/done/" not in task_item(page, task)


def test_another_tenants_tasks_are_not_listed_nor_closable(tenant_a, tenant_b, agent, login):
    theirs = overdue_invoice(tenant_b)
    task = FollowUpTaskFactory(
        tenant=tenant_b, invoice=theirs, due_on=tenant_today(tenant=tenant_b)
    )
    client = login(agent)
    assert client.get(f"/invoices/{theirs.pk}/").status_code == 404
    assert client.post(f"/tasks/{task.pk}/done/").status_code == 404
    with scopes_disabled():
        task.refresh_from_db()
    assert task.status == TaskStatus.OPEN
    assert customer_of(theirs).tenant_id == tenant_b.pk
