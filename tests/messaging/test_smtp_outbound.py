"""SMTP accounts go through the outbound policy: a public host and an SMTP port, checked when
saved and again when a message leaves; moving an account to another server needs its password
typed again; an unreachable server is reported in the same general words whatever happened."""

import json
import socket
import threading

import pytest
from django.utils.translation import gettext
from django_scopes import scopes_disabled

from messaging.config import provider_test_send
from messaging.models import ProviderAccount
from messaging.providers.base import OutgoingMessage, TransportError
from messaging.providers.smtp import SMTPProvider
from tests.messaging.factories import ProviderAccountFactory

pytestmark = pytest.mark.django_db
REAL_GETADDRINFO = socket.getaddrinfo
SECRET = "s3nha-antiga"


@pytest.fixture
def public_dns(monkeypatch):
    """Names under example.com resolve to a public address (no DNS in the tests)."""

    def getaddrinfo(host, port, *args, **kwargs):
        if not str(host).endswith("example.com"):
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", int(port)))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def smtp(host, **extra):
    return {
        "channel": "email",
        "provider": "smtp",
        "sender": "cobranca@escola.com.br",
        "credentials": {"host": host, "security": "starttls", **extra},
    }


def post(api, path, data, method="post"):
    return getattr(api, method)(path, json.dumps(data), content_type="application/json")


def stored_accounts():
    with scopes_disabled():
        return list(ProviderAccount.objects.all())


@pytest.mark.parametrize(
    "data",
    [
        smtp("127.0.0.1", port="25"),
        smtp("169.254.169.254", port="587"),
        smtp("smtp.example.com", port="2526"),
        smtp("smtp.example.com", port="22"),
    ],
)
def test_an_smtp_account_off_the_policy_is_refused_by_the_api(api_a, settings, public_dns, data):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    response = post(api_a, "/api/v1/provider-accounts/", data)
    assert response.status_code == 400 and "credentials" in response.json()
    assert stored_accounts() == []


def test_an_smtp_account_on_a_public_host_and_port_is_saved(api_a, settings, public_dns):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    for port in ("25", "465", "587", "2525"):
        data = smtp(f"smtp{port}.example.com", port=port)
        response = post(api_a, "/api/v1/provider-accounts/", {**data, "active": False})
        assert response.status_code == 201, response.content


def test_the_page_refuses_a_private_smtp_host_beside_the_form(login, owner, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    data = {
        "channel": "email",
        "provider": "smtp",
        "sender": "cobranca@escola.com.br",
        "active": "on",
        "credential_host": "127.0.0.1",
        "credential_port": "25",
    }
    page = login(owner).post("/settings/providers/new/", data)
    assert page.status_code == 200 and "127.0.0.1" in page.content.decode()
    assert stored_accounts() == []


def smtp_account(tenant):
    return ProviderAccountFactory(
        tenant=tenant,
        provider="smtp",
        credentials={
            "host": "smtp.escola.com.br",
            "port": "587",
            "security": "starttls",
            "username": "cobranca",
            "password": SECRET,
        },
    )


def page_data(**credentials):
    data = {"channel": "email", "provider": "smtp", "sender": "cobranca@escola.com.br"}
    return {**data, "active": "on", **{f"credential_{k}": v for k, v in credentials.items()}}


@pytest.mark.parametrize(
    "change", [{"host": "mail.atacante.com"}, {"port": "2525"}, {"security": "none"}]
)
def test_the_page_wont_send_the_stored_password_to_another_server(login, owner, tenant_a, change):
    account = smtp_account(tenant_a)
    page = login(owner).post(f"/settings/providers/{account.pk}/", page_data(**change))
    again = gettext("%(field)s: type it again; the stored one is not sent to a new server.")
    assert page.status_code == 200
    assert again % {"field": gettext("Password")} in page.context["form"].non_field_errors()
    [stored] = stored_accounts()
    assert stored.credentials == account.credentials


def test_the_page_moves_an_account_when_the_password_is_typed_again(login, owner, tenant_a):
    account = smtp_account(tenant_a)
    data = page_data(host="mail.novo.com.br", password="nova")
    assert login(owner).post(f"/settings/providers/{account.pk}/", data).status_code == 302
    [stored] = stored_accounts()
    assert stored.credentials["host"] == "mail.novo.com.br"
    assert stored.credentials["password"] == "nova"
    # Same server, password left blank: kept.
    data = page_data(username="outro")
    assert login(owner).post(f"/settings/providers/{account.pk}/", data).status_code == 302
    [stored] = stored_accounts()
    assert stored.credentials["password"] == "nova" and stored.credentials["username"] == "outro"


def test_the_api_wants_the_password_again_when_the_server_changes(api_a, tenant_a):
    account = smtp_account(tenant_a)
    path = f"/api/v1/provider-accounts/{account.pk}/"
    moved = {"host": "mail.atacante.com", "port": "587", "security": "starttls"}
    response = post(api_a, path, {"credentials": moved}, method="patch")
    assert response.status_code == 400 and "credentials" in response.json()
    [stored] = stored_accounts()
    assert stored.credentials == account.credentials
    response = post(api_a, path, {"credentials": {**moved, "password": "x"}}, method="patch")
    assert response.status_code == 200, response.content


def test_a_private_smtp_host_is_refused_when_the_message_leaves(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        provider = SMTPProvider(
            sender="a@escola.com.br", credentials={"host": "127.0.0.1", "port": "587"}
        )
        with pytest.raises(TransportError) as failed:
            provider.send(
                OutgoingMessage(
                    ref="r", channel="email", recipient="b@example.com", subject="s", body="b"
                )
            )
        assert failed.value.permanent
        provider.credentials["port"] = str(port)
        with pytest.raises(TransportError):
            provider.send(
                OutgoingMessage(
                    ref="r", channel="email", recipient="b@example.com", subject="s", body="b"
                )
            )
        with pytest.raises(TimeoutError):
            listener.accept()  # nothing ever connected


def closing_listener():
    """A loopback port that accepts a connection and closes it at once."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve():
        while True:
            try:
                connection, _address = listener.accept()
            except OSError:
                return
            connection.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener


def test_a_refused_port_and_a_closed_connection_read_the_same(tenant_a):
    listener = closing_listener()
    closed_port = listener.getsockname()[1]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        refused_port = probe.getsockname()[1]
    errors = []
    try:
        for port in (refused_port, closed_port):
            account = ProviderAccountFactory(
                tenant=tenant_a,
                provider="smtp",
                active=False,
                credentials={"host": "127.0.0.1", "port": str(port), "security": "none"},
            )
            outcome = provider_test_send(
                tenant=tenant_a, channel="email", recipient="b@example.com", account=account
            )
            errors.append(outcome.error)
    finally:
        listener.close()
    assert errors[0] == errors[1] == gettext("Could not connect to the SMTP server.")
