"""Webhook endpoints are written by one service, `webhook_endpoint_save`, that the settings page
and the API share: the same checks, the same row, the same messages."""

import json

import pytest
from django_scopes import scope, scopes_disabled

from collections_app.models import WebhookEndpoint
from collections_app.webhooks_out.endpoints import (
    EndpointError,
    webhook_endpoint_delete,
    webhook_endpoint_save,
)
from tests.fakes import Answer, FakeProvider

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    with FakeProvider(Answer(200, {"ok": True})) as fake:
        yield fake


def stored(tenant) -> list[dict]:
    with scope(tenant=tenant):
        return list(
            WebhookEndpoint.objects.order_by("id").values("url", "events", "active", "description")
        )


def test_the_page_and_the_api_store_the_same_endpoint(tenant_a, owner, login, api_a, receiver):
    fields = {
        "url": receiver.url + "/in",
        "events": ["task.created", "payment.received"],
        "description": "ERP",
    }
    login(owner).post("/settings/webhooks/", fields)
    response = api_a.post(
        "/api/v1/webhook-endpoints/", json.dumps(fields), content_type="application/json"
    )
    assert response.status_code == 201
    by_page, by_api = stored(tenant_a)
    assert by_page == by_api == {**fields, "active": True}


def test_the_page_and_the_api_refuse_a_private_address_with_the_same_message(
    tenant_a, owner, login, api_a, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    fields = {"url": "http://169.254.169.254/latest", "events": ["payment.received"]}
    page = login(owner).post("/settings/webhooks/", fields)
    api = api_a.post(
        "/api/v1/webhook-endpoints/", json.dumps(fields), content_type="application/json"
    )
    [api_message] = api.json()["url"]
    assert page.status_code == 200 and api_message in page.content.decode()
    assert stored(tenant_a) == []


def test_the_service_refuses_bad_input_and_leaves_the_endpoint_unchanged(tenant_a, receiver):
    with scope(tenant=tenant_a):
        endpoint = webhook_endpoint_save(
            tenant=tenant_a, url=receiver.url + "/in", events=["payment.received"] * 2
        )
        assert endpoint.events == ["payment.received"]
        for fields, field in [
            ({"events": []}, "events"),
            ({"events": ["invoice.eaten"]}, "events"),
            ({"url": "ftp://example.com/in"}, "url"),
        ]:
            with pytest.raises(EndpointError) as refused:
                webhook_endpoint_save(tenant=tenant_a, endpoint=endpoint, **fields)
            assert list(refused.value.errors) == [field]
    assert stored(tenant_a) == [
        {
            "url": receiver.url + "/in",
            "events": ["payment.received"],
            "active": True,
            "description": "",
        }
    ]


def test_another_tenants_endpoint_is_neither_changed_nor_removed(tenant_a, tenant_b, receiver):
    with scope(tenant=tenant_b):
        theirs = webhook_endpoint_save(
            tenant=tenant_b, url=receiver.url + "/in", events=["payment.received"]
        )
    with scopes_disabled():
        with pytest.raises(WebhookEndpoint.DoesNotExist):
            webhook_endpoint_save(tenant=tenant_a, endpoint=theirs, active=False)
        with pytest.raises(WebhookEndpoint.DoesNotExist):
            webhook_endpoint_delete(tenant=tenant_a, endpoint=theirs)
    assert stored(tenant_b)[0]["active"] is True
