"""The company's settings, the team and the API keys, each with the role it needs."""

from datetime import date, time

import pytest
from django_scopes import scopes_disabled

from tenants.models import ApiKey, Membership, Role, Tenant, TenantHoliday, User
from tenants.services import api_key_authenticate
from tests.tenants.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def company_form(tenant: Tenant, **changes) -> dict:
    data = {
        "name": tenant.name,
        "timezone": tenant.timezone,
        "state": "PE",
        "send_window_start": "09:00",
        "send_window_end": "18:30",
        "send_days_list": ["mon", "tue", "wed", "thu", "fri"],
        "run_time": "07:00",
        "late_fine_percent": "2",
        "monthly_interest_percent": "1",
        "early_discount_percent": "3",
        "early_discount_days": "5",
        "promise_max_days": "20",
        "paid_claim_pause_days": "3",
        "instalments_max": "4",
        "instalment_min_amount": "80",
        "agreement_grace_days": "5",
        "escalation_amount": "",
        "pix_key": "12345678000195",
        "merchant_name": "Escola Aurora",
        "merchant_city": "Recife",
        "brand_color": "#123456",
        "logo_url": "",
    }
    data.update(changes)
    return data


def test_an_admin_changes_the_send_window_days_and_rules(tenant_a, owner, login):
    response = login(owner).post("/settings/company/", company_form(tenant_a))
    assert response.status_code == 302
    tenant_a.refresh_from_db()
    assert (tenant_a.send_window_start, tenant_a.send_window_end) == (time(9), time(18, 30))
    assert tenant_a.send_days == "mon,tue,wed,thu,fri" and tenant_a.state == "PE"
    assert tenant_a.early_discount_percent == 3 and tenant_a.instalments_max == 4
    assert tenant_a.pix_key == "12345678000195" and tenant_a.brand_color == "#123456"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"send_window_end": "08:00"}, "send_window_end"),
        ({"pix_key": "chave errada"}, "pix_key"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"late_fine_percent": "150"}, "late_fine_percent"),
        ({"send_days_list": []}, "send_days_list"),
    ],
)
def test_bad_settings_are_refused_and_nothing_changes(tenant_a, owner, login, change, field):
    before = Tenant.objects.values().get(pk=tenant_a.pk)
    response = login(owner).post("/settings/company/", company_form(tenant_a, **change))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert f'id="id_{field}-error"' in response.content.decode() or field == "send_days_list"
    assert Tenant.objects.values().get(pk=tenant_a.pk) == before


def test_viewers_and_agents_read_the_settings_but_cannot_change_them(
    tenant_a, viewer, agent, login
):
    for user in (viewer, agent):
        client = login(user)
        assert client.get("/settings/").status_code == 200
        assert client.get("/settings/company/").status_code == 200
        assert client.post("/settings/company/", company_form(tenant_a)).status_code == 403
        assert client.post("/settings/company/holidays/", {}).status_code == 403
        assert client.get("/settings/team/").status_code == 403
        assert client.get("/settings/api-keys/").status_code == 403


def test_holidays_are_added_once_and_removed(tenant_a, owner, login):
    client = login(owner)
    client.post("/settings/company/holidays/", {"date": "2026-12-08", "name": "Padroeira"})
    client.post("/settings/company/holidays/", {"date": "2026-12-08", "name": "Outra"})
    with scopes_disabled():
        [holiday] = TenantHoliday.objects.filter(tenant=tenant_a)
    assert (holiday.date, holiday.name) == (date(2026, 12, 8), "Padroeira")
    client.post(f"/settings/company/holidays/{holiday.pk}/delete/")
    with scopes_disabled():
        assert not TenantHoliday.objects.filter(tenant=tenant_a).exists()


def test_only_an_owner_manages_the_team(tenant_a, owner, login):
    admin = MembershipFactory(tenant=tenant_a, role=Role.ADMIN).user
    assert login(admin).get("/settings/team/").status_code == 200
    admins_member = Membership.objects.get(tenant=tenant_a, user=admin)
    assert (
        login(admin).post(f"/settings/team/{admins_member.pk}/", {"role": "owner"}).status_code
        == 403
    )

    client = login(owner)
    page = client.post("/settings/team/", {"email": "nova@escola.com", "role": "agent"})
    assert page.status_code == 302
    newcomer = User.objects.get(email="nova@escola.com")
    assert not newcomer.has_usable_password()
    membership = Membership.objects.get(tenant=tenant_a, user=newcomer)
    assert membership.role == Role.AGENT
    client.post(f"/settings/team/{membership.pk}/", {"role": "viewer"})
    membership.refresh_from_db()
    assert membership.role == Role.VIEWER
    client.post(f"/settings/team/{membership.pk}/", {"role": "remove"})
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_the_last_owner_cannot_be_demoted(tenant_a, owner, login):
    mine = Membership.objects.get(tenant=tenant_a, user=owner)
    login(owner).post(f"/settings/team/{mine.pk}/", {"role": "agent"})
    mine.refresh_from_db()
    assert mine.role == Role.OWNER


def test_another_tenants_member_is_404(tenant_a, tenant_b, owner, outsider, login):
    theirs = Membership.objects.get(tenant=tenant_b, user=outsider)
    assert login(owner).post(f"/settings/team/{theirs.pk}/", {"role": "viewer"}).status_code == 404


def test_an_admin_creates_a_key_sees_it_once_and_revokes_it(tenant_a, owner, login):
    client = login(owner)
    created = client.post("/settings/api-keys/", {"name": "erp"})
    raw = created.context["raw"]
    assert raw and raw in created.content.decode()
    assert api_key_authenticate(raw).tenant_id == tenant_a.pk
    listing = client.get("/settings/api-keys/").content.decode()
    assert raw not in listing  # shown only once
    key = ApiKey.objects.get(tenant=tenant_a, name="erp")
    client.post(f"/settings/api-keys/{key.pk}/revoke/")
    assert api_key_authenticate(raw) is None
