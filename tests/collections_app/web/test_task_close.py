"""Closing a follow-up task is one service, `task_close`: the task page and the API's
`PATCH /api/v1/tasks/<id>/ {"status": "done"}` write the same timeline entry, once."""

import json

import pytest
from django_scopes import scope, scopes_disabled

from collections_app.activity.followups import task_close
from collections_app.models import FollowUpTask, Interaction, TaskStatus
from tenants.selectors import tenant_today
from tests.collections_app.factories import FollowUpTaskFactory

pytestmark = pytest.mark.django_db


def open_task(tenant, **fields) -> FollowUpTask:
    return FollowUpTaskFactory(
        tenant=tenant, invoice__tenant=tenant, due_on=tenant_today(tenant=tenant), **fields
    )


def closing_entries(task: FollowUpTask) -> list[dict]:
    """The timeline entries that say the task was closed, without what differs by who closed
    it (the actor, the moment)."""
    with scopes_disabled():
        rows = Interaction.objects.filter(
            kind="task", data__task_id=task.pk, data__status=TaskStatus.DONE
        ).values("tenant_id", "customer_id", "invoice_id", "kind", "summary", "data")
        return list(rows)


def api_close(api, task: FollowUpTask):
    return api.patch(
        f"/api/v1/tasks/{task.pk}/",
        json.dumps({"status": "done"}),
        content_type="application/json",
    )


def test_the_page_and_the_api_write_the_same_timeline_entry(tenant_a, agent, login, api_a):
    by_page = open_task(tenant_a, title="Ligar")
    by_api = open_task(tenant_a, title="Ligar")
    assert login(agent).post(f"/tasks/{by_page.pk}/done/").status_code == 302
    response = api_close(api_a, by_api)
    assert response.status_code == 200 and response.json()["status"] == "done"
    assert response.json()["completed_at"]

    [page_entry] = closing_entries(by_page)
    [api_entry] = closing_entries(by_api)
    assert page_entry["summary"] == api_entry["summary"] == "Tarefa concluída: Ligar"
    for entry, task in ((page_entry, by_page), (api_entry, by_api)):
        assert entry["data"] == {"task_id": task.pk, "status": "done"}
        assert (entry["customer_id"], entry["invoice_id"]) == (task.customer_id, task.invoice_id)
        assert entry["tenant_id"] == tenant_a.pk
    with scopes_disabled():
        for task in (by_page, by_api):
            task.refresh_from_db()
            assert task.status == TaskStatus.DONE and task.completed_at is not None
        # The page knows who closed it; an API key is nobody in particular.
        page_actor = Interaction.objects.get(data__task_id=by_page.pk, data__status="done").actor
    assert page_actor == agent


def test_a_task_closed_twice_has_one_entry_and_keeps_its_first_closing_time(
    tenant_a, agent, login, api_a
):
    task = open_task(tenant_a)
    login(agent).post(f"/tasks/{task.pk}/done/")
    with scopes_disabled():
        first = FollowUpTask.objects.get(pk=task.pk).completed_at
    assert api_close(api_a, task).status_code == 200
    assert login(agent).post(f"/tasks/{task.pk}/done/").status_code == 302
    assert len(closing_entries(task)) == 1
    with scopes_disabled():
        assert FollowUpTask.objects.get(pk=task.pk).completed_at == first


def test_the_api_still_changes_other_fields_without_an_entry(tenant_a, api_a):
    task = open_task(tenant_a)
    response = api_a.patch(
        f"/api/v1/tasks/{task.pk}/",
        json.dumps({"notes": "retornar amanhã"}),
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["status"] == "open"
    assert response.json()["notes"] == "retornar amanhã"
    assert closing_entries(task) == []


def test_another_tenants_task_is_refused_by_the_page_the_api_and_the_service(
    tenant_a, tenant_b, outsider, login, api_b
):
    task = open_task(tenant_a)
    assert login(outsider).post(f"/tasks/{task.pk}/done/").status_code == 404
    assert api_close(api_b, task).status_code == 404
    with scope(tenant=tenant_b), pytest.raises(FollowUpTask.DoesNotExist):
        task_close(tenant=tenant_b, task=task)
    with scopes_disabled():
        assert FollowUpTask.objects.get(pk=task.pk).status == TaskStatus.OPEN
    assert closing_entries(task) == []


@pytest.mark.parametrize(
    "posted, lands_on",
    [
        ("/invoices/?status=overdue", "/invoices/?status=overdue"),
        ("https://evil.example/phish", "/tasks/"),
        ("//evil.example/phish", "/tasks/"),
        ("", "/tasks/"),
    ],
)
def test_closing_a_task_goes_back_only_to_a_page_of_this_site(
    agent, tenant_a, login, posted, lands_on
):
    task = open_task(tenant_a, title="Ligar")
    response = login(agent).post(f"/tasks/{task.pk}/done/", {"next": posted})
    assert (response.status_code, response["Location"]) == (302, lands_on)
