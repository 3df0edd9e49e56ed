"""The product's own 400, 403, 404 and 500 pages, in pt-BR, with debug on or off; the favicon."""

import re

import pytest
from django.test import Client, RequestFactory
from django.utils import translation
from django.views.defaults import bad_request, server_error

from tenants.models import Role
from tests.tenants.factories import MembershipFactory

MENU = re.compile(r'<nav aria-label="[^"]*">(.*?)</nav>', re.S)


def test_unknown_address_is_the_products_404_with_the_menu(login, owner):
    response = login(owner).get("/nada-aqui/")

    assert response.status_code == 404
    html = response.content.decode()
    assert "Página não encontrada" in html
    assert "Visão geral" in MENU.search(html).group(1)
    assert 'href="/tenants/choose/"' in html


@pytest.mark.django_db
def test_404_without_a_login_is_a_plain_branded_page():
    response = Client().get("/nada-aqui/")

    assert response.status_code == 404
    html = response.content.decode()
    assert "Página não encontrada" in html
    assert 'class="brand"' in html
    assert MENU.search(html) is None
    assert 'href="/accounts/login/"' in html


@pytest.mark.parametrize("path", ["/nada-aqui/", "/invoices/999999/"])
def test_debug_mode_shows_the_products_404_not_the_list_of_urls(settings, login, owner, path):
    """The embedded mode runs with DEBUG on: Django's technical 404 listed every URL pattern,
    for an unknown address and for a view's Http404 alike."""
    settings.DEBUG = True

    response = login(owner).get(path)

    assert response.status_code == 404
    html = response.content.decode()
    assert "Página não encontrada" in html
    assert "URLconf" not in html
    assert "accounts/login/" not in html.replace('href="/accounts/login/"', "")
    assert "Visão geral" in MENU.search(html).group(1)


def test_debug_mode_keeps_json_404_under_the_api(settings, api_a):
    settings.DEBUG = True

    response = api_a.get("/api/v1/nada/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_403_names_the_role_in_the_layout(login, tenant_a):
    viewer = MembershipFactory(tenant=tenant_a, role=Role.VIEWER).user

    response = login(viewer).get("/bank/")

    assert response.status_code == 403
    html = response.content.decode()
    assert "Você não pode abrir esta página" in html
    assert "Escola Aurora" in html and "Leitor" in html
    assert "Visão geral" in MENU.search(html).group(1)


def test_403_in_debug_mode_is_the_products_page_too(settings, login, tenant_a):
    settings.DEBUG = True
    viewer = MembershipFactory(tenant=tenant_a, role=Role.VIEWER).user

    response = login(viewer).get("/settings/team/")

    assert response.status_code == 403
    assert "Você não pode abrir esta página" in response.content.decode()


def test_500_renders_without_context_or_database():
    """Django renders 500.html with no context processors, after anything may have failed,
    the database included (this test has no database: a query would fail it)."""
    request = RequestFactory().get("/")
    with translation.override("pt-br"):
        response = server_error(request)

    assert response.status_code == 500
    html = response.content.decode()
    assert "Algo deu errado do nosso lado" in html
    assert 'rel="icon"' in html and "/static/css/app.css" in html


def test_400_renders_without_context_or_database():
    request = RequestFactory().get("/")
    with translation.override("pt-br"):
        response = bad_request(request, Exception())

    assert response.status_code == 400
    assert "Requisição inválida" in response.content.decode()


@pytest.mark.django_db
def test_an_expired_form_explains_itself():
    response = Client(enforce_csrf_checks=True).post(
        "/accounts/login/", {"username": "a@b.c", "password": "x"}
    )

    assert response.status_code == 403
    assert "O formulário expirou" in response.content.decode()


@pytest.mark.django_db
def test_favicon_ico_leads_to_the_static_icon():
    response = Client().get("/favicon.ico")

    assert response.status_code == 302
    assert response["Location"] == "/static/favicon.ico"


def test_pages_link_an_icon(login, owner):
    html = login(owner).get("/settings/").content.decode()

    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    assert 'href="/static/favicon-32.png"' in html


def test_the_icons_are_in_static():
    from django.contrib.staticfiles import finders

    svg = finders.find("favicon.svg")
    assert svg and "#0f766e" in open(svg).read()
    for name, magic in [("favicon.ico", b"\x00\x00\x01\x00"), ("favicon-32.png", b"\x89PNG")]:
        path = finders.find(name)
        assert path and open(path, "rb").read(4) == magic
