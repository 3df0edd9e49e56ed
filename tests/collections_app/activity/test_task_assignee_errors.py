"""Assigning a task through the API: a user of another company and a user id that does not
exist get the same answer, so the error does not tell which user ids exist."""

from datetime import date

import pytest

from tests.collections_app.factories import FollowUpTaskFactory, InvoiceFactory


@pytest.fixture
def task(tenant_a):
    return FollowUpTaskFactory(invoice=InvoiceFactory(tenant=tenant_a), due_on=date(2026, 12, 2))


def _assign(api, task, user_id):
    return api.patch(
        f"/api/v1/tasks/{task.pk}/", {"assignee": user_id}, content_type="application/json"
    )


def test_not_a_member_and_no_such_user_get_one_message(api_a, task, outsider):
    stranger = _assign(api_a, task, outsider.pk)
    missing = _assign(api_a, task, 987654)
    assert stranger.status_code == missing.status_code == 400
    assert stranger.json() == missing.json()
    task.refresh_from_db()
    assert task.assignee_id is None


def test_a_member_can_be_assigned(api_a, task, agent):
    answer = _assign(api_a, task, agent.pk)
    assert answer.status_code == 200, answer.content
    task.refresh_from_db()
    assert task.assignee_id == agent.pk


def test_another_tenants_task_is_a_404(api_b, task, outsider):
    assert _assign(api_b, task, outsider.pk).status_code == 404
