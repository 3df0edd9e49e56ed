"""Company settings and the outbound webhooks page (issue 16): the time zone is a choice with
Brazil's zones first, the calendar's holidays are listed above the company's own, and the
webhooks page speaks to a finance user, keeps the signature recipe for developers and saves an
address whose name does not resolve yet."""

import socket
from datetime import date

import pytest
from django_scopes import scope, scopes_disabled

from collections_app.models import WebhookEndpoint
from tenants.models import TenantHoliday
from tests.tenants.test_settings_pages import company_form

pytestmark = pytest.mark.django_db


def test_the_time_zone_is_a_choice_with_brazil_first_in_plain_names(tenant_a, owner, login):
    client = login(owner)
    page = client.get("/settings/company/").content.decode()
    select = page[
        page.index('<select name="timezone"') : page.index(
            "</select>", page.index('<select name="timezone"')
        )
    ]
    groups = select.split("<optgroup")
    assert 'label="Brasil"' in groups[1] and 'label="Outros fusos horários"' in groups[2]
    brazil = groups[1]
    assert brazil.index("America/Sao_Paulo") < brazil.index("America/Manaus")
    assert "Horário de Brasília" in brazil and "Amazonas (Manaus)" in brazil
    assert 'value="America/Sao_Paulo" selected' in brazil
    assert "Europe/Lisbon" in groups[2] and "America/Sao_Paulo" not in groups[2]
    response = client.post("/settings/company/", company_form(tenant_a, timezone="America/Manaus"))
    assert response.status_code == 302
    tenant_a.refresh_from_db()
    assert tenant_a.timezone == "America/Manaus"
    refused = client.post("/settings/company/", company_form(tenant_a, timezone="Mars/Olympus"))
    assert refused.status_code == 200 and "timezone" in refused.context["form"].errors


def test_the_calendar_holidays_of_the_next_year_are_listed_above_the_company_own(
    tenant_a, owner, login
):
    tenant_a.state = "SP"
    tenant_a.save(update_fields=["state"])
    with scope(tenant=tenant_a):
        TenantHoliday.objects.create(
            tenant=tenant_a, date=date(2027, 1, 25), name="Aniversário de SP"
        )
    page = login(owner).get("/settings/company/").content.decode()
    calendar = page[
        page.index('id="calendar-holidays"') : page.index(
            "</table>", page.index('id="calendar-holidays"')
        )
    ]
    own = page[page.index('id="own-holidays"') :]
    assert page.index('id="calendar-holidays"') < page.index('id="own-holidays"')
    # The tests' clock is 2 December 2026: Christmas, New Year, Carnaval, Tiradentes, SP's 9 July…
    assert 'data-date="2026-12-25"' in calendar and "Natal" in calendar
    assert "Segunda-feira de Carnaval" in calendar and "Corpus Christi" in calendar
    assert "Revolução Constitucionalista" in calendar  # São Paulo's own
    assert "Último dia útil do ano" in calendar
    assert 'data-date="2026-11-20"' not in calendar  # past
    assert 'data-date="2027-12-25"' not in calendar  # more than 12 months ahead
    assert "Aniversário de SP" not in calendar and "Aniversário de SP" in own


def test_the_webhooks_page_speaks_to_finance_first(tenant_a, owner, login):
    page = login(owner).get("/settings/webhooks/").content.decode()
    intro = page.index('id="webhooks-intro"')
    details = page.index('<details class="card developers"')
    assert "Um webhook avisa o seu próprio sistema" in page
    assert intro < details
    assert page.index("X-Regua-Signature") > details  # the recipe is for developers, folded
    assert page.index("HMAC") > details
    assert "Um pagamento foi registrado em uma fatura." in page  # events described
    assert "Uma fatura venceu sem pagamento." in page


def test_an_address_whose_name_does_not_resolve_yet_is_saved(
    tenant_a, owner, login, settings, monkeypatch
):
    settings.WEBHOOKS_ALLOW_PRIVATE = False

    def unresolvable(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unresolvable)
    client = login(owner)
    saved = client.post(
        "/settings/webhooks/",
        {"url": "https://erp.padaria.example/hooks", "events": ["payment.received"]},
    )
    assert saved.status_code == 200 and not saved.context["form"].errors
    refused = client.post(
        "/settings/webhooks/", {"url": "http://10.0.0.5/in", "events": ["payment.received"]}
    )
    assert "url" in refused.context["form"].errors
    with scopes_disabled():
        assert list(WebhookEndpoint.objects.values_list("url", flat=True)) == [
            "https://erp.padaria.example/hooks"
        ]
