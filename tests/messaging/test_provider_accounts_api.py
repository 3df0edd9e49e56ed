"""A tenant's own provider accounts over the API: validated, secrets never shown back, and a
test send through the real SDK against a loopback fake."""

import json

import pytest
from django_scopes import scopes_disabled

from messaging.models import ProviderAccount
from tests.fakes import Answer, FakeProvider, twilio_answer
from tests.messaging.factories import ProviderAccountFactory

pytestmark = pytest.mark.django_db
SID = "AC" + "1" * 32
TOKEN = "segredo-muito-secreto"


def post(api, path, data):
    return api.post(path, json.dumps(data), content_type="application/json")


def twilio_account(**extra):
    return {
        "channel": "sms",
        "provider": "twilio_sms",
        "sender": "+5511900000000",
        "credentials": {"account_sid": SID, "auth_token": TOKEN},
        **extra,
    }


def test_an_account_is_stored_encrypted_and_shown_masked(api_a):
    response = post(api_a, "/api/v1/provider-accounts/", twilio_account())
    assert response.status_code == 201, response.content
    body = api_a.get(f"/api/v1/provider-accounts/{response.json()['id']}/").json()
    assert "credentials" not in body
    assert body["credentials_masked"]["auth_token"] == "••••reto"
    assert TOKEN not in json.dumps(body)
    with scopes_disabled():
        account = ProviderAccount.objects.get()
    assert TOKEN not in account.credentials_encrypted
    assert account.credentials["auth_token"] == TOKEN


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (twilio_account(channel="email"), "provider"),  # Twilio SMS cannot send e-mail
        (twilio_account(credentials={"account_sid": SID}), "credentials"),
        ({"channel": "email", "provider": "sendgrid", "credentials": {}}, "credentials"),
        # An SMTP port that is not a port, a security mode that does not exist.
        (
            {"channel": "email", "provider": "smtp", "credentials": {"host": "h", "port": "25a"}},
            "credentials",
        ),
        (
            {"channel": "email", "provider": "smtp", "credentials": {"host": "h", "port": 70000}},
            "credentials",
        ),
        (
            {"channel": "email", "provider": "smtp", "credentials": {"host": "h", "security": "x"}},
            "credentials",
        ),
    ],
)
def test_an_account_that_cannot_work_is_refused(api_a, data, field):
    response = post(api_a, "/api/v1/provider-accounts/", data)
    assert response.status_code == 400
    assert field in response.json()
    with scopes_disabled():
        assert ProviderAccount.objects.count() == 0


def test_one_active_account_per_channel(api_a):
    assert post(api_a, "/api/v1/provider-accounts/", twilio_account()).status_code == 201
    second = post(api_a, "/api/v1/provider-accounts/", twilio_account())
    assert second.status_code == 400 and "active" in second.json()
    inactive = post(api_a, "/api/v1/provider-accounts/", twilio_account(active=False))
    assert inactive.status_code == 201


def test_editing_keeps_the_secret_unless_a_new_one_is_given(api_a):
    created = post(api_a, "/api/v1/provider-accounts/", twilio_account()).json()
    response = api_a.patch(
        f"/api/v1/provider-accounts/{created['id']}/",
        json.dumps({"sender": "+5511911111111"}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    with scopes_disabled():
        account = ProviderAccount.objects.get()
    assert account.sender == "+5511911111111" and account.credentials["auth_token"] == TOKEN


def test_send_a_test_message_through_the_account(api_a, settings):
    with FakeProvider(twilio_answer) as fake:
        settings.TWILIO_API_BASE = fake.url
        post(api_a, "/api/v1/provider-accounts/", twilio_account())
        ok = post(
            api_a,
            "/api/v1/provider-accounts/test/",
            {"channel": "sms", "recipient": "+5511987654321"},
        ).json()
        fake.script.append(
            Answer(400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400})
        )
        failed = post(
            api_a,
            "/api/v1/provider-accounts/test/",
            {"channel": "sms", "recipient": "+5511000"},
        ).json()
    assert ok["ok"] is True and ok["provider"] == "twilio_sms"
    assert ok["provider_message_id"].startswith("SM")
    assert fake.requests[0].form()["To"] == "+5511987654321"
    assert "Régua" in fake.requests[0].form()["Body"]
    assert failed == {"ok": False, "error": "Twilio 21211: invalid 'To' phone number"}


def test_a_channel_without_an_account_tests_the_platform_default(api_a):
    response = post(
        api_a, "/api/v1/provider-accounts/test/", {"channel": "email", "recipient": "a@ex.com"}
    ).json()
    assert response["ok"] is True and response["provider"] == "console"


def test_an_smtp_account_saved_with_a_bad_port_fails_its_test_send_with_the_reason(api_a, tenant_a):
    # Stored before ports were checked: the test send says what is wrong, no 500.
    ProviderAccountFactory(
        tenant=tenant_a, provider="smtp", credentials={"host": "h", "port": "abc"}
    )
    answer = post(
        api_a, "/api/v1/provider-accounts/test/", {"channel": "email", "recipient": "a@b.com.br"}
    )
    assert answer.status_code == 200
    assert answer.json() == {"ok": False, "error": "SMTP port 'abc' is not a number"}
