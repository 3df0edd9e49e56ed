import json
from datetime import date

import pytest
from django_scopes import scope, scopes_disabled

from collections_app.engine import ladder_evaluate
from collections_app.models import Dispatch, LadderStep
from tests.collections_app.factories import InvoiceFactory

pytestmark = pytest.mark.django_db
DAY = date(2026, 12, 2)


def send(client, method, url, data):
    return getattr(client, method)(url, json.dumps(data), content_type="application/json")


def default_ladder(api):
    return api.get("/api/v1/ladders/").json()["results"][0]


def test_ladders_list_with_steps_inline(api_a):
    ladder = default_ladder(api_a)
    assert ladder["is_default"] is True
    assert [s["offset_days"] for s in ladder["steps"]] == [-5, -1, 0, 3, 7, 15]


def test_create_a_ladder_with_steps(api_a):
    payload = {
        "name": "Grandes contas",
        "steps": [
            {"offset_days": -10, "channels": ["email"], "template_key": "pre_due_5"},
            {"offset_days": 2, "day_kind": "business", "kind": "task", "task_title": "Ligar"},
        ],
    }
    response = send(api_a, "post", "/api/v1/ladders/", payload)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["is_default"] is False
    assert [(s["offset_days"], s["kind"]) for s in body["steps"]] == [(-10, "message"), (2, "task")]


@pytest.mark.parametrize(
    "step, field",
    [
        ({"offset_days": 1, "channels": [], "template_key": "due_today"}, "channels"),
        ({"offset_days": 1, "channels": ["sms"], "template_key": "pre_due_5"}, "template_key"),
        ({"offset_days": 1, "kind": "task"}, "task_title"),
        ({"offset_days": 999, "channels": ["email"], "template_key": "pre_due_5"}, "offset_days"),
        ({"offset_days": 1, "channels": ["fax"], "template_key": "pre_due_5"}, "channels"),
    ],
)
def test_invalid_steps_are_refused_with_a_reason(api_a, step, field):
    response = send(api_a, "post", "/api/v1/ladders/", {"name": "X", "steps": [step]})
    assert response.status_code == 400
    errors = response.json()["steps"]
    # Serializer errors come as a list; DRF's nested field errors as {"0": …}.
    first = errors[0] if isinstance(errors, list) else errors["0"]
    assert field in first
    assert api_a.get("/api/v1/ladders/").json()["count"] == 1


def test_editing_a_ladder_never_resends_a_step_already_done(api_a, tenant_a):
    InvoiceFactory(tenant=tenant_a, due_date=DAY)
    with scope(tenant=tenant_a):
        ladder_evaluate(tenant=tenant_a, today=DAY)  # D0 done
    ladder = default_ladder(api_a)
    steps = [s for s in ladder["steps"] if s["offset_days"] != 0]  # remove D0
    steps.append({"offset_days": 0, "channels": ["email"], "template_key": "due_today"})
    response = send(
        api_a, "put", f"/api/v1/ladders/{ladder['id']}/", {"name": ladder["name"], "steps": steps}
    )
    assert response.status_code == 200, response.content
    with scope(tenant=tenant_a):
        old_d0 = LadderStep.objects.get(offset_days=0, active=False)
        assert old_d0.dispatches.count() == 1  # history kept, step deactivated
        result = ladder_evaluate(tenant=tenant_a, today=DAY)
    # The new D0 is a different step: the same invoice already had its D0 today... but the
    # ledger is per step, so the edit must not cause a second D0 message on the same day.
    with scopes_disabled():
        assert Dispatch.objects.filter(tenant=tenant_a).count() == 1 + result.created
    assert result.messages == 0


def test_segment_rule_is_validated(api_a):
    ladder_id = default_ladder(api_a)["id"]
    bad = send(
        api_a,
        "post",
        "/api/v1/segments/",
        {"name": "VIP", "rule": {"kind": "astrology"}, "ladder": ladder_id},
    )
    assert bad.status_code == 400 and "rule" in bad.json()
    good = send(
        api_a,
        "post",
        "/api/v1/segments/",
        {"name": "VIP", "rule": {"kind": "amount_at_least", "value": "10000"}, "ladder": ladder_id},
    )
    assert good.status_code == 201
    again = send(
        api_a,
        "post",
        "/api/v1/segments/",
        {"name": "VIP", "rule": {"kind": "tag", "value": "vip"}, "ladder": ladder_id},
    )
    assert again.status_code == 400 and "name" in again.json()


def test_segment_cannot_point_at_another_tenants_ladder(api_a, api_b):
    b_ladder = default_ladder(api_b)["id"]
    response = send(
        api_a,
        "post",
        "/api/v1/segments/",
        {"name": "X", "rule": {"kind": "tag", "value": "x"}, "ladder": b_ladder},
    )
    assert response.status_code == 400 and "ladder" in response.json()
