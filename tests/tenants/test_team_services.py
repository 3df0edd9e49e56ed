"""The team's services (adding members, changing roles, removing them) and the last-owner rule,
held by the service whoever calls it; the team and API-key pages, now tenants' pages, answer
at the same URLs and refuse another tenant's members and keys."""

import smtplib

import pytest
from django.core import mail
from django.urls import resolve, reverse

from tenants import views as tenant_views
from tenants.models import ApiKey, Membership, Role, User
from tenants.services import (
    MemberError,
    api_key_create,
    member_invite,
    member_remove,
    member_role_change,
)
from tests.tenants.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def test_member_invite_creates_the_user_once_and_keeps_an_existing_member_as_is(tenant_a):
    result = member_invite(tenant=tenant_a, email="Nova@Escola.com", role=Role.AGENT)
    assert result.created and result.mailed and result.membership.role == Role.AGENT
    user = User.objects.get(email="nova@escola.com")
    assert not user.has_usable_password()
    again = member_invite(tenant=tenant_a, email="nova@escola.com", role=Role.ADMIN)
    assert again.membership.pk == result.membership.pk and not again.created
    assert len(mail.outbox) == 1
    again.membership.refresh_from_db()
    assert again.membership.role == Role.AGENT


def test_member_invite_joins_an_existing_user_without_touching_the_password(tenant_a, outsider):
    before = outsider.password
    result = member_invite(tenant=tenant_a, email=outsider.email, role=Role.VIEWER)
    assert result.created and result.membership.user == outsider
    outsider.refresh_from_db()
    assert outsider.password == before


def test_member_invite_refuses_an_unknown_role(tenant_a):
    with pytest.raises(MemberError):
        member_invite(tenant=tenant_a, email="x@y.com", role="emperor")
    assert not User.objects.filter(email="x@y.com").exists()


def test_only_an_owner_invites_an_owner(tenant_a, owner):
    admin = MembershipFactory(tenant=tenant_a, role=Role.ADMIN)
    with pytest.raises(MemberError):
        member_invite(tenant=tenant_a, email="x@y.com", role=Role.OWNER, invited_by=admin)
    assert not User.objects.filter(email="x@y.com").exists()
    mine = Membership.objects.get(tenant=tenant_a, user=owner)
    assert member_invite(tenant=tenant_a, email="x@y.com", role=Role.OWNER, invited_by=mine).created


def test_an_unsent_invitation_is_reported(tenant_a, settings):
    settings.EMAIL_BACKEND = "tests.tenants.test_team_services.RefusingBackend"
    result = member_invite(tenant=tenant_a, email="x@y.com", role=Role.AGENT)
    assert result.created and not result.mailed


class RefusingBackend:
    """An e-mail backend whose server refuses every message (what an SMTP outage looks like)."""

    def __init__(self, **kwargs):
        pass

    def send_messages(self, messages):
        raise smtplib.SMTPServerDisconnected("down")


def test_the_last_owner_can_be_neither_demoted_nor_removed_by_the_service(tenant_a, owner):
    mine = Membership.objects.get(tenant=tenant_a, user=owner)
    with pytest.raises(MemberError):
        member_role_change(tenant=tenant_a, membership=mine, role=Role.ADMIN)
    with pytest.raises(MemberError):
        member_remove(tenant=tenant_a, membership=mine)
    mine.refresh_from_db()
    assert mine.role == Role.OWNER


def test_with_a_second_owner_the_first_may_step_down(tenant_a, owner):
    second = MembershipFactory(tenant=tenant_a, role=Role.OWNER).user
    mine = Membership.objects.get(tenant=tenant_a, user=owner)
    member_role_change(tenant=tenant_a, membership=mine, role=Role.ADMIN)
    mine.refresh_from_db()
    assert mine.role == Role.ADMIN
    # Now the second owner is the last one.
    theirs = Membership.objects.get(tenant=tenant_a, user=second)
    with pytest.raises(MemberError):
        member_remove(tenant=tenant_a, membership=theirs)
    assert Membership.objects.filter(pk=theirs.pk, role=Role.OWNER).exists()


def test_member_role_change_refuses_an_unknown_role(tenant_a, agent):
    membership = Membership.objects.get(tenant=tenant_a, user=agent)
    with pytest.raises(MemberError):
        member_role_change(tenant=tenant_a, membership=membership, role="emperor")
    membership.refresh_from_db()
    assert membership.role == Role.AGENT


def test_the_services_refuse_another_tenants_member(tenant_a, tenant_b, outsider):
    theirs = Membership.objects.get(tenant=tenant_b, user=outsider)
    with pytest.raises(Membership.DoesNotExist):
        member_role_change(tenant=tenant_a, membership=theirs, role=Role.VIEWER)
    with pytest.raises(Membership.DoesNotExist):
        member_remove(tenant=tenant_a, membership=theirs)
    assert Membership.objects.filter(pk=theirs.pk, role=Role.OWNER).exists()


def test_the_page_tells_the_last_owner_why_nothing_changed(tenant_a, owner, login):
    mine = Membership.objects.get(tenant=tenant_a, user=owner)
    response = login(owner).post(f"/settings/team/{mine.pk}/", {"role": "remove"}, follow=True)
    said = [str(m) for m in response.context["messages"]]
    assert said in (
        ["A empresa precisa de pelo menos um proprietário."],
        ["The company needs at least one owner."],
    )
    assert Membership.objects.filter(pk=mine.pk, role=Role.OWNER).exists()


@pytest.mark.parametrize(
    ("name", "args", "path", "view"),
    [
        ("settings_team", [], "/settings/team/", tenant_views.team),
        ("settings_member", [7], "/settings/team/7/", tenant_views.member_change),
        ("settings_api_keys", [], "/settings/api-keys/", tenant_views.api_keys),
        (
            "settings_api_key_revoke",
            [7],
            "/settings/api-keys/7/revoke/",
            tenant_views.api_key_delete,
        ),
    ],
)
def test_the_team_and_key_pages_keep_their_names_and_paths(name, args, path, view):
    assert reverse(name, args=args) == path
    assert resolve(path).func is view


def test_the_moved_pages_answer_at_the_same_urls(tenant_a, owner, login):
    client = login(owner)
    team = client.get("/settings/team/")
    assert team.status_code == 200 and owner.email in team.content.decode()
    keys = client.get("/settings/api-keys/")
    assert keys.status_code == 200 and "data-new-key" not in keys.content.decode()


def test_another_tenants_member_and_key_are_404_on_the_moved_pages(
    tenant_a, tenant_b, owner, outsider, login
):
    theirs = Membership.objects.get(tenant=tenant_b, user=outsider)
    their_key, raw = api_key_create(tenant=tenant_b, name="erp")
    client = login(owner)
    assert client.post(f"/settings/team/{theirs.pk}/", {"role": "remove"}).status_code == 404
    assert client.post(f"/settings/api-keys/{their_key.pk}/revoke/").status_code == 404
    assert Membership.objects.filter(pk=theirs.pk, role=Role.OWNER).exists()
    their_key.refresh_from_db()
    assert their_key.revoked_at is None
    # Neither page lists another tenant's people or keys.
    assert outsider.email not in client.get("/settings/team/").content.decode()
    assert f"••••{raw[-4:]}" not in client.get("/settings/api-keys/").content.decode()
    assert ApiKey.objects.filter(tenant=tenant_b).count() == 1
