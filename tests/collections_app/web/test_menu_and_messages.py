"""The menu and the settings index show a role only what it may open; messages show their
level."""

import re

import pytest

from tenants.models import Role
from tests.collections_app.factories import InvoiceFactory
from tests.tenants.factories import MembershipFactory

MENU = re.compile(r'<nav aria-label="[^"]*">(.*?)</nav>', re.S)
HREF = re.compile(r'href="([^"]+)"')


def menu_links(html: str) -> list[str]:
    return HREF.findall(MENU.search(html).group(1))


def settings_links(html: str) -> list[str]:
    section = html.split('class="cards settings-index"', 1)[1].split("</main>", 1)[0]
    return HREF.findall(section)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.AGENT, Role.ADMIN, Role.OWNER])
def test_every_menu_and_settings_link_opens_for_the_role(login, tenant_a, role):
    client = login(MembershipFactory(tenant=tenant_a, role=role).user)

    links = menu_links(client.get("/settings/").content.decode())
    links += settings_links(client.get("/settings/").content.decode())

    answers = {link: client.get(link).status_code for link in links}
    assert answers and all(code == 200 for code in answers.values()), answers


@pytest.mark.parametrize(
    ("role", "hidden", "shown"),
    [
        (Role.VIEWER, {"/imports/", "/bank/", "/settings/team/", "/settings/api-keys/"}, set()),
        (
            Role.AGENT,
            {"/settings/team/", "/settings/webhooks/", "/settings/api-keys/"},
            {"/imports/", "/bank/"},
        ),
        (Role.ADMIN, set(), {"/imports/", "/bank/", "/settings/team/", "/settings/api-keys/"}),
    ],
)
def test_links_a_role_cannot_open_are_hidden(login, tenant_a, role, hidden, shown):
    client = login(MembershipFactory(tenant=tenant_a, role=role).user)

    links = set(menu_links(client.get("/settings/").content.decode()))
    links |= set(settings_links(client.get("/settings/").content.decode()))

    assert not hidden & links
    assert shown <= links


def test_an_error_message_has_the_error_style_and_a_word(login, tenant_a):
    admin = MembershipFactory(tenant=tenant_a, role=Role.ADMIN).user
    invoice = InvoiceFactory(tenant=tenant_a)

    # A bulk action that did not go through (no action chosen) is a message at the top.
    response = login(admin).post("/invoices/bulk/", {"ids": [invoice.pk]}, follow=True)

    html = response.content.decode()
    item = re.search(r'<li class="flash flash-error">(.*?)</li>', html, re.S)
    assert item, html
    assert "Erro:" in item.group(1)
    assert "flash-success" not in html


def test_a_success_message_has_the_success_style(login, tenant_a):
    admin = MembershipFactory(tenant=tenant_a, role=Role.ADMIN).user

    response = login(admin).post(
        "/settings/company/holidays/", {"date": "2026-12-24", "name": "Véspera"}, follow=True
    )

    html = response.content.decode()
    assert re.search(r'<li class="flash flash-success">', html)
    assert "flash-error" not in html
