"""Every path that sets a password runs the password validators (AUTH_PASSWORD_VALIDATORS)."""

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from collections_app.demo.seeding import AGENT_EMAIL, DEMO_PASSWORD, OWNER_EMAIL
from tenants.models import Tenant, User
from tenants.services import member_invite, password_problems, tenant_create
from tests.tenants.factories import PASSWORD

pytestmark = pytest.mark.django_db


def create_tenant(slug: str, password: str, email: str = "dona@escola.com") -> None:
    call_command(
        "create_tenant", slug, "--name", "Escola", "--owner-email", email, "--password", password
    )


@pytest.mark.parametrize("password", ["x", "12345678901", "password123", "dona@escola.com"])
def test_create_tenant_refuses_a_weak_password_and_writes_nothing(password):
    with pytest.raises(CommandError, match="Password refused"):
        create_tenant("escola", password)
    assert not Tenant.objects.exists() and not User.objects.exists()


def test_create_tenant_gives_the_validators_messages():
    with translation.override("pt-br"), pytest.raises(CommandError) as caught:
        create_tenant("escola", "x")
    assert "Esta senha é muito curta. Ela precisa conter pelo menos 10 caracteres." in str(
        caught.value
    )


def test_create_tenant_refuses_a_weak_new_password_for_an_existing_user(owner):
    old_hash = owner.password
    with pytest.raises(CommandError, match="Password refused"):
        create_tenant("outra", "123", email=owner.email)
    owner.refresh_from_db()
    assert owner.password == old_hash and not Tenant.objects.filter(slug="outra").exists()


def test_create_tenant_accepts_a_strong_password():
    create_tenant("escola", PASSWORD)
    assert User.objects.get(email="dona@escola.com").check_password(PASSWORD)


def test_an_invited_member_has_no_password_until_they_choose_one(tenant_a):
    # The invitation's page sets it through Django's SetPasswordForm, which runs the
    # validators (tests/tenants/test_accounts.py); nobody is ever given a generated one.
    result = member_invite(tenant=tenant_a, email="novo@example.com", role="agent")
    assert result.created and not result.membership.user.has_usable_password()


def test_demo_password_passes_the_validators():
    for email in (OWNER_EMAIL, AGENT_EMAIL):
        assert password_problems(password=DEMO_PASSWORD, user=User(email=email)) == []


def test_tenant_create_without_password_leaves_it_unusable():
    tenant_create(slug="sem-senha", name="Sem senha", owner_email="x@example.com")
    assert not User.objects.get(email="x@example.com").has_usable_password()
