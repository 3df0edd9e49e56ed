"""Stored provider credentials are shown masked, as their last four characters, to admins and
owners only (pages and API); agents and viewers, who may read the accounts, see no part of
them."""

import pytest

from messaging.crypto import mask
from tests.messaging.factories import ProviderAccountFactory
from tests.tenants.factories import MembershipFactory

pytestmark = pytest.mark.django_db

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "tok-9f8e7d6c5b4a3210-WXYZ"


@pytest.fixture
def account(tenant_a):
    return ProviderAccountFactory(
        tenant=tenant_a,
        provider="twilio_sms",
        sender="+5511900000000",
        credentials={"account_sid": SID, "auth_token": TOKEN},
    )


def pieces(secret: str) -> list[str]:
    """Every 4-character run of the secret: none may appear where it must be hidden."""
    return [secret[i : i + 4] for i in range(len(secret) - 3)]


def pages(client, account) -> str:
    listing = client.get("/settings/providers/")
    editor = client.get(f"/settings/providers/{account.pk}/")
    assert listing.status_code == 200 and editor.status_code == 200
    return listing.content.decode() + editor.content.decode()


def test_a_masked_secret_is_its_last_four_characters_and_a_short_one_nothing():
    assert mask(TOKEN) == "••••WXYZ"
    assert mask("short-pass1") == "••••••••"  # 11 characters: four would say too much
    assert mask("") == "••••••••"


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_admins_and_owners_see_the_last_four_characters(tenant_a, login, account, role):
    user = MembershipFactory(tenant=tenant_a, role=role).user
    html = pages(login(user), account)
    assert "••••WXYZ" in html and "••••cdef" in html
    assert not [p for p in pieces(TOKEN)[:-1] if p in html]
    assert TOKEN[:4] not in html and SID[:6] not in html


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_agents_and_viewers_see_no_part_of_a_secret(tenant_a, login, account, role):
    user = MembershipFactory(tenant=tenant_a, role=role).user
    html = pages(login(user), account)
    assert not [p for p in pieces(TOKEN) + pieces(SID) if p in html]
    assert "+5511900000000" in html  # the account itself may be read
    assert "Visíveis só para administradores" in html


def test_the_api_shows_the_last_four_characters(api_a, account):
    body = api_a.get(f"/api/v1/provider-accounts/{account.pk}/").json()
    assert body["credentials_masked"] == {"account_sid": "••••cdef", "auth_token": "••••WXYZ"}
    assert "credentials" not in body


def test_another_tenants_account_shows_nothing(tenant_b, login, outsider, account):
    assert login(outsider).get(f"/settings/providers/{account.pk}/").status_code == 404
    assert TOKEN[-4:] not in login(outsider).get("/settings/providers/").content.decode()
