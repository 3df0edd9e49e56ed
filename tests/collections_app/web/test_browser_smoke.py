"""Smoke test of the browser infrastructure: the login page on a phone, in Brazilian Portuguese."""

import pytest

from tests.browser import screenshot

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_login_page_on_a_phone(live_server, page):
    page.goto(f"{live_server.url}/accounts/login/")

    assert page.get_by_role("heading", name="Entrar na Régua").is_visible()
    email = page.get_by_label("E-mail")
    assert email.is_visible()
    assert email.get_attribute("type") == "email"
    assert page.get_by_label("Senha").is_visible()
    assert page.evaluate("window.innerWidth") == 390
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    path = screenshot(page, "login-phone")
    assert path.is_file()
    assert path.read_bytes().startswith(b"\x89PNG")
    assert path.stat().st_size > 0
