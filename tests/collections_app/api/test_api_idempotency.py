"""`Idempotency-Key` on the API's POSTs, and the rate limit per API key."""

import json
from datetime import date
from unittest import mock

import pytest
from django_scopes import scope

from collections_app.api.customers import CustomerViewSet
from collections_app.models import Customer, Ladder, Payment, Segment
from tenants.api_auth import ApiKeyRateThrottle
from tenants.idempotency import MAX_KEY_LENGTH
from tenants.models import IdempotentRequest
from tests.collections_app.factories import InvoiceFactory
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db


def post(client, path, data, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(path, json.dumps(data), content_type="application/json", **headers)


def test_a_retried_post_with_the_same_key_writes_once_and_answers_the_same(tenant_a, api_a):

    invoice = InvoiceFactory(tenant=tenant_a, due_date=date(2026, 12, 1), amount="500.00")
    body = {"invoice": invoice.external_id, "amount": "100.00"}  # no external_id of its own
    first = post(api_a, "/api/v1/payments/", body, key="pay-7f3a")
    again = post(api_a, "/api/v1/payments/", body, key="pay-7f3a")
    assert first.status_code == 201 and again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    with scope(tenant=tenant_a):
        assert Payment.objects.count() == 1
    # Without a key, a second POST is a second payment: the key is what makes it safe.
    post(api_a, "/api/v1/payments/", body)
    with scope(tenant=tenant_a):
        assert Payment.objects.count() == 2


def test_the_same_key_for_a_different_request_is_refused(tenant_a, api_a):

    invoice = InvoiceFactory(tenant=tenant_a, due_date=date(2026, 12, 1), amount="500.00")
    post(api_a, "/api/v1/payments/", {"invoice": invoice.external_id, "amount": "1.00"}, "k1")
    other = post(
        api_a, "/api/v1/payments/", {"invoice": invoice.external_id, "amount": "2.00"}, "k1"
    )
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["detail"]
    with scope(tenant=tenant_a):
        assert list(Payment.objects.values_list("amount", flat=True)) == [1]


def test_keys_belong_to_their_api_key(tenant_a, tenant_b, api_a, api_b):
    body = {"external_id": "C-1", "name": "Ana"}
    assert post(api_a, "/api/v1/customers/", body, key="same").status_code == 201
    answer = post(api_b, "/api/v1/customers/", body, key="same")
    assert answer.status_code == 201 and "Idempotent-Replayed" not in answer


def test_a_key_whose_request_is_still_running_gets_409(tenant_a, api_a):
    first = post(api_a, "/api/v1/customers/", {"external_id": "C-2", "name": "Bia"}, key="slow")
    assert first.status_code == 201
    IdempotentRequest.objects.filter(key="slow").update(status=None)
    again = post(api_a, "/api/v1/customers/", {"external_id": "C-2", "name": "Bia"}, key="slow")
    assert again.status_code == 409


def test_an_error_answer_is_kept_but_a_server_error_is_not(tenant_a, api_a):
    bad = post(api_a, "/api/v1/customers/", {"name": "no external id"}, key="bad")
    assert bad.status_code == 400
    assert post(api_a, "/api/v1/customers/", {"name": "no external id"}, key="bad").json() == (
        bad.json()
    )

    api_a.raise_request_exception = False
    failing = staticmethod(mock.Mock(side_effect=RuntimeError("database down")))
    with mock.patch.object(CustomerViewSet, "upsert_service", failing):
        crashed = post(api_a, "/api/v1/customers/", {"external_id": "C-3", "name": "Cy"}, "boom")
    assert crashed.status_code == 500
    # Not kept: the retry runs for real.
    assert not IdempotentRequest.objects.filter(key="boom").exists()
    retried = post(api_a, "/api/v1/customers/", {"external_id": "C-3", "name": "Cy"}, "boom")
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried


def test_each_api_key_has_its_rate(tenant_a, tenant_b):
    mine, theirs = api_client_for(tenant_a), api_client_for(tenant_b)
    with mock.patch.dict(ApiKeyRateThrottle.THROTTLE_RATES, {"api_key": "3/min"}):
        statuses = [mine.get("/api/v1/invoices/").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = mine.get("/api/v1/invoices/")
        assert int(refused["Retry-After"]) > 0
        assert theirs.get("/api/v1/invoices/").status_code == 200  # another key, its own count


def test_invoices_filter_by_segment(tenant_a, api_a):

    a = InvoiceFactory(
        tenant=tenant_a, due_date=date(2026, 12, 1), customer={"external_id": "A", "name": "A"}
    )
    InvoiceFactory(
        tenant=tenant_a, due_date=date(2026, 12, 1), customer={"external_id": "B", "name": "B"}
    )
    with scope(tenant=tenant_a):
        vip = Segment.objects.create(
            tenant=tenant_a,
            name="VIP",
            priority=1,
            rule={"kind": "manual"},
            ladder=Ladder.objects.get(is_default=True),
        )
        Customer.objects.filter(external_id="A").update(segment=vip)
    body = api_a.get(f"/api/v1/invoices/?segment={vip.pk}").json()
    assert [row["external_id"] for row in body["results"]] == [a.external_id]
    assert api_a.get("/api/v1/invoices/?segment=vip").status_code == 400


def test_every_post_documents_the_idempotency_key(client):
    schema = client.get("/api/schema/?format=json").json()
    posts = {
        path: methods["post"]
        for path, methods in schema["paths"].items()
        if path.startswith("/api/v1/") and "post" in methods
    }
    assert "/api/v1/payments/" in posts and "/api/v1/webhook-endpoints/" in posts
    for path, operation in posts.items():
        [header] = [
            p
            for p in operation["parameters"]
            if p["in"] == "header" and p["name"] == "Idempotency-Key"
        ]
        assert header["required"] is False, path
        assert header["schema"] == {"type": "string", "maxLength": MAX_KEY_LENGTH}, path
        responses = operation["responses"]
        assert {"409", "422"} <= set(responses), path
        for code in ("409", "422"):
            body = responses[code]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/Error"}, path
        for code, response in responses.items():
            if code not in ("409", "422"):
                assert "Idempotent-Replayed" in response["headers"], (path, code)
    # Only POSTs: the middleware leaves the other methods alone.
    for methods in schema["paths"].values():
        for method, operation in methods.items():
            if method != "post":
                names = [p["name"] for p in operation.get("parameters", [])]
                assert "Idempotency-Key" not in names


def test_a_rate_limited_post_is_not_kept(tenant_a, api_a):
    body = {"external_id": "C-9", "name": "Di"}
    with mock.patch.dict(ApiKeyRateThrottle.THROTTLE_RATES, {"api_key": "1/min"}):
        api_a.get("/api/v1/customers/")
        refused = post(api_a, "/api/v1/customers/", body, key="after-429")
    assert refused.status_code == 429
    assert not IdempotentRequest.objects.filter(key="after-429").exists()
    # After Retry-After, the same key runs for real instead of replaying the 429.
    retried = post(api_a, "/api/v1/customers/", body, key="after-429")
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried


def test_a_key_over_the_limit_is_a_400(api_a):
    body = {"external_id": "C-8", "name": "Eva"}
    too_long = post(api_a, "/api/v1/customers/", body, key="k" * (MAX_KEY_LENGTH + 1))
    assert too_long.status_code == 400 and "detail" in too_long.json()
    assert post(api_a, "/api/v1/customers/", body, key="k" * MAX_KEY_LENGTH).status_code == 201
