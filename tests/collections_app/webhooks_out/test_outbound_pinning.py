"""A webhook delivery resolves its host once, checks every address and connects to a checked
one (DNS rebinding cannot send it to loopback), keeps the name in the Host header and for TLS,
and never follows a redirect."""

import socket

import pytest
import urllib3.util.connection
from django_scopes import scope, scopes_disabled

from collections_app.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from collections_app.webhooks_out.events import PinnedHostAdapter, webhook_attempt
from tests.fakes import Answer, FakeProvider

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.216.34"  # example.com's historic address: global, never reached (see below)
REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture
def receiver():
    with FakeProvider(Answer(200, {"ok": True})) as fake:
        yield fake


def rebinding_resolver(name: str, *answers: str):
    """getaddrinfo that answers `name` with each of `answers` in turn (the last one for good)
    and anything else as the real resolver does."""
    calls = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != name:
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        address = answers[min(len(calls), len(answers) - 1)]
        calls.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port or 0)))]

    return getaddrinfo, calls


def delivery_to(tenant, url):
    with scope(tenant=tenant):
        endpoint = WebhookEndpoint.objects.create(tenant=tenant, url=url, events=["ping"])
        return WebhookDelivery.objects.create(
            tenant=tenant, endpoint=endpoint, event="ping", dedupe_key="ping:1", payload={}
        )


def test_a_name_that_rebinds_to_loopback_never_reaches_it(
    tenant_a, receiver, settings, monkeypatch
):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    port = receiver.server.server_address[1]
    getaddrinfo, calls = rebinding_resolver("hooks.rebind.test", PUBLIC, "127.0.0.1")
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    # The public internet cannot be reached from the tests: a connection to the public
    # address is recorded and refused here; any other goes through for real (a name is
    # resolved again by the resolver above).
    connected = []
    real_create_connection = urllib3.util.connection.create_connection

    def create_connection(address, *args, **kwargs):
        connected.append(address[0])
        if address[0] == PUBLIC:
            raise ConnectionRefusedError("not reachable from the tests")
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)
    delivery = delivery_to(tenant_a, f"http://hooks.rebind.test:{port}/in")

    with scopes_disabled():
        webhook_attempt(delivery=delivery)
        delivery.refresh_from_db()
    assert receiver.requests == []
    assert calls == [PUBLIC] and connected == [PUBLIC]
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1


def test_a_delivery_goes_to_the_checked_address_with_the_name_as_host(
    tenant_a, receiver, monkeypatch
):
    # The tests' switch (WEBHOOKS_ALLOW_PRIVATE) lets the name resolve to the loopback fake.
    port = receiver.server.server_address[1]
    getaddrinfo, calls = rebinding_resolver("hooks.example.test", "127.0.0.1", "10.9.9.9")
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    delivery = delivery_to(tenant_a, f"http://hooks.example.test:{port}/in?x=1")

    with scopes_disabled():
        webhook_attempt(delivery=delivery)
        delivery.refresh_from_db()
    [request] = receiver.requests
    assert request.path == "/in?x=1"
    assert request.headers["Host"] == f"hooks.example.test:{port}"
    assert calls == ["127.0.0.1"]  # resolved once
    assert delivery.status == DeliveryStatus.DELIVERED


def test_a_redirect_is_not_followed(tenant_a, settings):
    with FakeProvider(Answer(200, {"ok": True})) as elsewhere:
        with FakeProvider(Answer(302, None, {"Location": elsewhere.url + "/x"})) as receiver:
            delivery = delivery_to(tenant_a, receiver.url + "/in")
            with scopes_disabled():
                webhook_attempt(delivery=delivery)
                delivery.refresh_from_db()
        assert len(receiver.requests) == 1 and elsewhere.requests == []
    assert delivery.status == DeliveryStatus.PENDING and delivery.last_status_code == 302


def test_tls_keeps_the_name_for_sni_and_the_certificate_check():
    adapter = PinnedHostAdapter("hooks.example.com")
    pool = adapter.poolmanager.connection_from_host("93.184.216.34", 443, scheme="https")
    assert pool.conn_kw["server_hostname"] == "hooks.example.com"
    assert pool.assert_hostname == "hooks.example.com"
