"""Stored idempotent answers are kept only for requests made with a valid API key; a revoked
key replays nothing, and a request without a valid key writes nothing."""

import json

import pytest
from django.test import Client
from django_scopes import scope

from collections_app.models import Customer
from tenants.models import IdempotentRequest
from tenants.services import api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db


def post(client, key: str, external_id: str = "C-1"):
    body = json.dumps({"external_id": external_id, "name": "Ana Lima"})
    return client.post(
        "/api/v1/customers/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
    )


@pytest.mark.parametrize(
    "authorization",
    [None, "Api-Key rg_deadbeef_not-a-key", "Api-Key ", "Bearer something"],
)
def test_a_request_without_a_valid_key_keeps_no_answer(tenant_a, authorization):
    client = Client(HTTP_AUTHORIZATION=authorization) if authorization else Client()
    answer = post(client, "k-1")
    assert answer.status_code == 401
    assert not IdempotentRequest.objects.exists()
    with scope(tenant=tenant_a):
        assert not Customer.objects.exists()


def test_a_revoked_key_no_longer_replays_its_answers(tenant_a):
    key, raw = api_key_create(tenant=tenant_a)
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    first = post(client, "k-1")
    assert first.status_code == 201
    replay = post(client, "k-1")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    stored = IdempotentRequest.objects.get()
    assert stored.api_key == key

    api_key_revoke(tenant=tenant_a, key=key)
    after = post(client, "k-1")
    assert after.status_code == 401 and "Idempotent-Replayed" not in after
    assert b"Ana Lima" not in after.content
    assert IdempotentRequest.objects.count() == 1  # nothing new kept for the revoked key


def test_another_valid_key_of_the_same_tenant_has_its_own_answers(tenant_a):
    _key, raw = api_key_create(tenant=tenant_a)
    _other, other_raw = api_key_create(tenant=tenant_a)
    assert post(Client(HTTP_AUTHORIZATION=f"Api-Key {raw}"), "same").status_code == 201
    answer = post(Client(HTTP_AUTHORIZATION=f"Api-Key {other_raw}"), "same", "C-2")
    assert answer.status_code == 201 and "Idempotent-Replayed" not in answer
