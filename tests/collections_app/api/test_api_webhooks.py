"""Outbound webhook subscriptions through the API: endpoints with the settings page's checks,
the secret shown once, the delivery log with resend, the test ping, and tenant isolation."""

import json
import socket

import pytest
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from collections_app.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from collections_app.signing import payment_signature
from collections_app.tasks import webhook_deliver
from collections_app.webhooks_out.events import webhook_emit
from tests.fakes import Answer, FakeProvider

pytestmark = pytest.mark.django_db

EVENTS = ["payment.received", "task.created"]


@pytest.fixture
def receiver():
    with FakeProvider(Answer(200, {"ok": True})) as fake:
        yield fake


def send(api, method, path, data=None):
    body = {} if data is None else {"data": json.dumps(data), "content_type": "application/json"}
    return getattr(api, method)(path, **body)


def create(api, url, events=EVENTS, **extra):
    return send(api, "post", "/api/v1/webhook-endpoints/", {"url": url, "events": events, **extra})


def delivery_for(tenant, endpoint, *, status=DeliveryStatus.FAILED, key="payment:1", **extra):
    """A delivery in the log: by default one that failed for good (8 attempts, HTTP 503)."""
    failed = status == DeliveryStatus.FAILED
    fields = {"attempts": 8 if failed else 0, "last_status_code": 503 if failed else None}
    with scope(tenant=tenant):
        return WebhookDelivery.objects.create(
            tenant=tenant,
            endpoint=endpoint,
            event="payment.received",
            dedupe_key=key,
            payload={"event": "payment.received", "data": {"payment_id": 1}},
            status=status,
            **{**fields, **extra},
        )


def signed_with(secret, request) -> bool:
    headers = {k.lower(): v for k, v in request.headers.items()}
    return headers["x-regua-signature"] == payment_signature(
        secret, headers["x-regua-timestamp"], request.body
    )


def test_the_secret_is_shown_on_create_only(tenant_a, api_a, receiver):
    created = create(api_a, receiver.url + "/in", description="ERP")
    assert created.status_code == 201
    body = created.json()
    assert body["events"] == EVENTS and body["active"] is True and body["description"] == "ERP"
    with scope(tenant=tenant_a):
        endpoint = WebhookEndpoint.objects.get()
    assert body["secret"] == endpoint.secret and body["id"] == endpoint.pk
    listed = api_a.get("/api/v1/webhook-endpoints/").json()
    assert listed["count"] == 1 and "secret" not in listed["results"][0]
    shown = api_a.get(f"/api/v1/webhook-endpoints/{endpoint.pk}/").json()
    assert "secret" not in shown and shown["url"] == receiver.url + "/in"
    changed = send(api_a, "patch", f"/api/v1/webhook-endpoints/{endpoint.pk}/", {"active": False})
    assert changed.status_code == 200 and "secret" not in changed.json()


def test_rotating_the_secret_shows_the_new_one_once(tenant_a, api_a, receiver):
    endpoint = create(api_a, receiver.url + "/in").json()
    rotated = api_a.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/rotate-secret/")
    assert rotated.status_code == 200
    secret = rotated.json()["secret"]
    assert secret != endpoint["secret"] and secret.startswith("whsec_")
    with scopes_disabled():
        assert WebhookEndpoint.objects.get(pk=endpoint["id"]).secret == secret


@pytest.mark.parametrize(
    "events",
    [[], ["payment.received", "invoice.paid"], "payment.received", [None], ["ping"]],
)
def test_events_must_be_known(api_a, receiver, events):
    response = create(api_a, receiver.url + "/in", events=events)
    assert response.status_code == 400 and "events" in response.json()


def test_repeated_events_are_kept_once(api_a, receiver):
    body = create(api_a, receiver.url + "/in", events=["task.created"] * 3 + EVENTS).json()
    assert body["events"] == ["task.created", "payment.received"]


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/in", "not a url", "https://example.com:99999/in", "", "x" * 501],
)
def test_urls_are_checked(api_a, url):
    response = create(api_a, url)
    assert response.status_code == 400 and "url" in response.json()


def test_private_addresses_are_refused_like_on_the_settings_page(tenant_a, api_a, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    for url in ["http://127.0.0.1:8000/in", "http://[::1]/in", "http://169.254.169.254/latest"]:
        response = create(api_a, url)
        assert response.status_code == 400, url
        assert list(response.json()) == ["url"]
    with scope(tenant=tenant_a):
        assert not WebhookEndpoint.objects.exists()


def test_a_host_that_does_not_resolve_yet_is_saved_and_its_delivery_fails_clearly(
    tenant_a, api_a, settings, monkeypatch
):
    # Issue 16: a receiver is often registered before its DNS exists; the name is checked when
    # a delivery goes out (the whole outbound policy), not when the endpoint is saved.
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    lookups = []

    def unresolvable(host, *args, **kwargs):
        lookups.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unresolvable)
    created = create(api_a, "https://hooks.example.invalid/in")
    assert created.status_code == 201 and lookups == []
    with scope(tenant=tenant_a):
        endpoint = WebhookEndpoint.objects.get()
        delivery = WebhookDelivery.objects.create(
            tenant=tenant_a,
            endpoint=endpoint,
            event="ping",
            dedupe_key="ping:1",
            payload={},
            next_attempt_at=timezone.now(),
        )
    webhook_deliver.apply(kwargs={"delivery_id": delivery.pk})
    with scopes_disabled():
        delivery.refresh_from_db()
    assert lookups == ["hooks.example.invalid"]
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_error == "O host hooks.example.invalid não foi encontrado no DNS."
    # A name the IDNA codec refuses is a 400 at once, not a server error.
    response = create(api_a, "https://ex\u2029ample.com/in")
    assert response.status_code == 400 and "url" in response.json()


def test_updates_are_checked_the_same_way(tenant_a, api_a, receiver, settings):
    endpoint = create(api_a, receiver.url + "/in").json()
    path = f"/api/v1/webhook-endpoints/{endpoint['id']}/"
    paused = send(api_a, "patch", path, {"active": False, "events": ["message.failed"]})
    assert paused.status_code == 200
    assert paused.json()["active"] is False and paused.json()["events"] == ["message.failed"]
    assert send(api_a, "patch", path, {"events": []}).status_code == 400
    assert send(api_a, "put", path, {"active": True}).status_code == 400  # url, events needed
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    moved = send(api_a, "patch", path, {"url": "http://10.0.0.7/in"})
    assert moved.status_code == 400 and "url" in moved.json()
    with scopes_disabled():
        assert WebhookEndpoint.objects.get(pk=endpoint["id"]).url == receiver.url + "/in"


def test_an_inactive_endpoint_hears_nothing_and_a_removed_one_is_gone(
    tenant_a, api_a, receiver, django_capture_on_commit_callbacks
):

    endpoint = create(api_a, receiver.url + "/in").json()
    path = f"/api/v1/webhook-endpoints/{endpoint['id']}/"
    send(api_a, "patch", path, {"active": False})
    with scope(tenant=tenant_a), django_capture_on_commit_callbacks(execute=True):
        webhook_emit(tenant_id=tenant_a.pk, event="task.created", dedupe_key="task:1", data={})
    assert receiver.requests == []
    assert api_a.delete(path).status_code == 204
    assert api_a.get(path).status_code == 404
    with scope(tenant=tenant_a):
        assert not WebhookEndpoint.objects.exists()


def test_the_delivery_log_pages_and_filters(tenant_a, api_a, receiver):
    first = create(api_a, receiver.url + "/a").json()
    second = create(api_a, receiver.url + "/b").json()
    with scopes_disabled():
        a, b = (WebhookEndpoint.objects.get(pk=e["id"]) for e in (first, second))
    failed = delivery_for(tenant_a, a, key="payment:1")
    pending = delivery_for(
        tenant_a, a, key="payment:2", status=DeliveryStatus.PENDING, next_attempt_at=timezone.now()
    )
    other = delivery_for(tenant_a, b, key="payment:1")

    log = api_a.get("/api/v1/webhook-deliveries/").json()
    assert log["count"] == 3
    assert [d["id"] for d in log["results"]] == [other.pk, pending.pk, failed.pk]  # newest first
    row = log["results"][2]
    assert row["endpoint"] == a.pk and row["event"] == "payment.received"
    assert row["status"] == "failed" and row["attempts"] == 8 and row["last_status_code"] == 503
    assert {"next_attempt_at", "created_at", "delivered_at", "last_error"} <= set(row)

    mine = api_a.get(f"/api/v1/webhook-endpoints/{a.pk}/deliveries/?page_size=1").json()
    assert mine["count"] == 2 and len(mine["results"]) == 1 and mine["next"]
    only = api_a.get(f"/api/v1/webhook-deliveries/?endpoint={a.pk}&status=pending").json()
    assert [d["id"] for d in only["results"]] == [pending.pk]
    nested = api_a.get(f"/api/v1/webhook-endpoints/{b.pk}/deliveries/?status=failed").json()
    assert [d["id"] for d in nested["results"]] == [other.pk]
    assert api_a.get(f"/api/v1/webhook-deliveries/{failed.pk}/").json()["id"] == failed.pk
    for query in ["status=lost", "endpoint=x", "endpoint=99999999999999999999", "event=a%00"]:
        response = api_a.get(f"/api/v1/webhook-deliveries/?{query}")
        assert response.status_code == 400 and query.split("=")[0] in response.json()


def test_resend_sends_a_settled_delivery_again(
    tenant_a, api_a, receiver, django_capture_on_commit_callbacks
):
    endpoint = create(api_a, receiver.url + "/in").json()
    with scopes_disabled():
        delivery = delivery_for(tenant_a, WebhookEndpoint.objects.get(pk=endpoint["id"]))
    with django_capture_on_commit_callbacks(execute=True):
        response = api_a.post(f"/api/v1/webhook-deliveries/{delivery.pk}/resend/")
    assert response.status_code == 202
    [request] = receiver.requests
    assert signed_with(endpoint["secret"], request)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1


def test_resend_refuses_a_pending_delivery(tenant_a, api_a, owner, login, receiver):
    endpoint = create(api_a, receiver.url + "/in").json()
    with scopes_disabled():
        delivery = delivery_for(
            tenant_a,
            WebhookEndpoint.objects.get(pk=endpoint["id"]),
            status=DeliveryStatus.PENDING,
            attempts=3,
        )
    response = api_a.post(f"/api/v1/webhook-deliveries/{delivery.pk}/resend/")
    assert response.status_code == 400 and "status" in response.json()
    # The settings page shares the rule.
    login(owner).post(f"/settings/webhooks/deliveries/{delivery.pk}/redeliver/")
    delivery.refresh_from_db()
    assert delivery.attempts == 3 and receiver.requests == []


def test_ping_sends_a_signed_test_delivery(
    tenant_a, api_a, receiver, django_capture_on_commit_callbacks
):
    endpoint = create(api_a, receiver.url + "/in", events=["invoice.overdue"]).json()
    send(api_a, "patch", f"/api/v1/webhook-endpoints/{endpoint['id']}/", {"active": False})
    with django_capture_on_commit_callbacks(execute=True):
        response = api_a.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/ping/")
    assert response.status_code == 202
    assert response.json()["event"] == "ping" and response.json()["endpoint"] == endpoint["id"]
    [request] = receiver.requests
    assert {k.lower(): v for k, v in request.headers.items()}["x-regua-event"] == "ping"
    assert signed_with(endpoint["secret"], request)
    assert request.json()["data"]["endpoint_id"] == endpoint["id"]
    shown = api_a.get(f"/api/v1/webhook-deliveries/{response.json()['id']}/").json()
    assert shown["status"] == "delivered"
    # A duplicate task finds it settled.
    assert webhook_deliver.apply(kwargs={"delivery_id": shown["id"]}).get() == "not due"


def test_another_tenants_endpoints_and_deliveries_are_not_found(
    tenant_a, tenant_b, api_a, api_b, receiver
):
    theirs = create(api_b, receiver.url + "/b").json()
    with scopes_disabled():
        delivery = delivery_for(tenant_b, WebhookEndpoint.objects.get(pk=theirs["id"]))
    path = f"/api/v1/webhook-endpoints/{theirs['id']}/"
    assert api_a.get(path).status_code == 404
    assert send(api_a, "patch", path, {"active": False}).status_code == 404
    assert send(api_a, "put", path, {"url": receiver.url, "events": EVENTS}).status_code == 404
    assert api_a.delete(path).status_code == 404
    for action in ["rotate-secret", "ping"]:
        assert api_a.post(path + action + "/").status_code == 404
    assert api_a.get(path + "deliveries/").status_code == 404
    assert api_a.get(f"/api/v1/webhook-deliveries/{delivery.pk}/").status_code == 404
    assert api_a.post(f"/api/v1/webhook-deliveries/{delivery.pk}/resend/").status_code == 404
    assert api_a.get("/api/v1/webhook-endpoints/").json()["count"] == 0
    assert api_a.get(f"/api/v1/webhook-deliveries/?endpoint={theirs['id']}").json()["count"] == 0
    with scopes_disabled():
        endpoint = WebhookEndpoint.objects.get(pk=theirs["id"])
    assert endpoint.active and endpoint.secret == theirs["secret"]
    assert receiver.requests == []


def test_the_api_needs_a_key(client):
    assert client.get("/api/v1/webhook-endpoints/").status_code == 401
    assert client.get("/api/v1/webhook-deliveries/").status_code == 401
