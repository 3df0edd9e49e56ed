"""`Idempotency-Key` on the API's POSTs, and the rate limit per API key."""

import json
import threading
from datetime import date, timedelta
from unittest import mock

import pytest
from django.db import connection
from django.http import JsonResponse
from django.test import Client
from django.utils import timezone
from django_scopes import scope

from collections_app.api.customers import CustomerViewSet
from collections_app.models import Customer, Ladder, Payment, Segment
from tenants.api_auth import ApiKeyRateThrottle
from tenants.idempotency import MAX_KEY_LENGTH, IdempotencyMiddleware, _take_over
from tenants.models import IdempotentRequest
from tenants.services import api_key_create
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


class ProcessKilled(BaseException):
    """What a request whose process dies mid-way looks like from inside: nothing after it runs
    (no `except Exception` catches it, so the record is left running)."""


def _crash(api, body, key):
    killed = staticmethod(mock.Mock(side_effect=ProcessKilled()))
    with mock.patch.object(CustomerViewSet, "upsert_service", killed):
        with pytest.raises(ProcessKilled):
            post(api, "/api/v1/customers/", body, key)
    [record] = IdempotentRequest.objects.filter(key=key)
    assert record.status is None  # left running, as a killed process leaves it


@pytest.mark.django_db(transaction=True)
def test_a_key_left_running_by_a_crashed_request_is_taken_over_after_the_lease(
    tenant_a, api_a, frozen_clock, settings
):
    settings.IDEMPOTENCY_RUNNING_LEASE_SECONDS = 120
    body = {"external_id": "C-40", "name": "Gil"}
    _crash(api_a, body, "crashed")

    # Within the lease the first request may still be running: 409, and when to come back.
    busy = post(api_a, "/api/v1/customers/", body, key="crashed")
    assert busy.status_code == 409
    assert 1 <= int(busy["Retry-After"]) <= 120

    # Minutes later, not 24 hours: the retry runs for real and its answer is kept.
    frozen_clock.shift(121)
    retried = post(api_a, "/api/v1/customers/", body, key="crashed")
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried
    with scope(tenant=tenant_a):
        assert Customer.objects.filter(external_id="C-40").count() == 1
    again = post(api_a, "/api/v1/customers/", body, key="crashed")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == retried.json()

    # A different request under the stale key is still a misuse of the key.
    _crash(api_a, {"external_id": "C-41", "name": "Hu"}, "crashed-2")
    frozen_clock.shift(121)
    other = post(api_a, "/api/v1/customers/", {"external_id": "C-41", "name": "Ivo"}, "crashed-2")
    assert other.status_code == 422


def test_a_finished_answer_is_replayed_for_24_hours_not_just_the_lease(
    tenant_a, api_a, frozen_clock
):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=date(2026, 12, 1), amount="500.00")
    body = {"invoice": invoice.external_id, "amount": "100.00"}
    first = post(api_a, "/api/v1/payments/", body, key="pay-kept")
    assert first.status_code == 201
    frozen_clock.shift(23 * 3600)
    again = post(api_a, "/api/v1/payments/", body, key="pay-kept")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    with scope(tenant=tenant_a):
        assert Payment.objects.count() == 1
    frozen_clock.shift(2 * 3600)  # past the 24 hours: a new request
    assert "Idempotent-Replayed" not in post(api_a, "/api/v1/payments/", body, key="pay-kept")
    with scope(tenant=tenant_a):
        assert Payment.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_racing_retries_of_a_stale_key_have_one_winner(tenant_a, frozen_clock, settings):
    """Several retries read the same stale record at once: each tries its conditional UPDATE,
    exactly one moves it (and runs); the others answer 409."""
    settings.IDEMPOTENCY_RUNNING_LEASE_SECONDS = 120
    api_key, _raw = api_key_create(tenant=tenant_a)
    stale = IdempotentRequest.objects.create(
        api_key=api_key, key="race", fingerprint="f" * 64, created_at=timezone.now()
    )
    frozen_clock.shift(300)
    racers = 4
    barrier = threading.Barrier(racers)
    read = IdempotentRequest.objects.filter
    results: list = []

    def read_then_wait(*args, **kwargs):
        found = read(*args, **kwargs)
        if kwargs.get("key") == "race":
            found = list(found)  # every racer holds the stale record before anyone updates
            barrier.wait(timeout=10)
            return mock.Mock(first=lambda: found[0] if found else None)
        return found

    def racer():
        try:
            with mock.patch.object(IdempotentRequest.objects, "filter", read_then_wait):
                results.append(_take_over(api_key=api_key, key="race", fingerprint="f" * 64))
        finally:
            connection.close()

    threads = [threading.Thread(target=racer) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == racers
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    stale.refresh_from_db()
    assert stale.created_at == winners[0].created_at > timezone.now() - timedelta(seconds=60)
    assert stale.status is None  # the winner now runs it


def test_a_slow_request_whose_key_was_taken_over_does_not_overwrite_the_new_answer(
    tenant_a, api_a, frozen_clock, settings, rf
):
    """The first request was only slow, not dead: the retry that took its key over keeps its
    own answer, and the late finisher's answer is not kept over it."""
    settings.IDEMPOTENCY_RUNNING_LEASE_SECONDS = 120
    api_key, raw = api_key_create(tenant=tenant_a)
    body = json.dumps({"external_id": "C-50", "name": "Jo"})
    newer: list = []

    def slow(request):
        frozen_clock.shift(121)
        retry = Client(HTTP_AUTHORIZATION=f"Api-Key {raw}").post(
            "/api/v1/customers/",
            body,
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="slow-1",
        )
        newer.append(retry)
        return JsonResponse({"late": True}, status=201)

    request = rf.post(
        "/api/v1/customers/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Api-Key {raw}",
        HTTP_IDEMPOTENCY_KEY="slow-1",
    )
    late = IdempotencyMiddleware(slow)(request)
    assert late.status_code == 201 and newer[0].status_code == 201
    [record] = IdempotentRequest.objects.filter(key="slow-1")
    assert json.loads(bytes(record.body)) == newer[0].json() != {"late": True}
