"""An API key is shown whole once, when it is created; afterwards its page shows its last four
characters only, and only to admins and owners."""

import re

import pytest
from django_scopes import scopes_disabled

from tenants.models import ApiKey
from tenants.services import api_key_create

pytestmark = pytest.mark.django_db


def test_a_key_is_shown_once_then_as_its_last_four_characters(tenant_a, owner, login):
    client = login(owner)
    created = client.post("/settings/api-keys/", {"name": "erp"}).content.decode()
    raw = re.search(r"rg_[0-9a-f]{8}_[A-Za-z0-9_-]+", created).group(0)
    with scopes_disabled():
        key = ApiKey.objects.get(tenant=tenant_a, name="erp")
    assert key.matches(raw)

    later = client.get("/settings/api-keys/").content.decode()
    assert f"••••{raw[-4:]}" in later
    assert raw not in later and key.prefix not in later and raw[:12] not in later


def test_agents_and_viewers_do_not_see_the_keys(tenant_a, agent, viewer, login):
    _key, raw = api_key_create(tenant=tenant_a, name="erp")
    for user in (agent, viewer):
        answer = login(user).get("/settings/api-keys/")
        assert answer.status_code == 403 and f"••••{raw[-4:]}" not in answer.content.decode()


def test_another_tenants_keys_are_not_listed(tenant_a, tenant_b, owner, login):
    _key, raw = api_key_create(tenant=tenant_b, name="theirs")
    page = login(owner).get("/settings/api-keys/").content.decode()
    assert "theirs" not in page and f"••••{raw[-4:]}" not in page
