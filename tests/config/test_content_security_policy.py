"""Every page carries a Content-Security-Policy that runs only the product's own script files
and loads only its own style sheets; no template holds an inline script, an inline event
handler or a <style> block, which that policy would block."""

import re

import pytest
from django.test import Client

from tests.collections_app.factories import InvoiceFactory
from tests.paths import ROOT

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def assert_strict(response) -> None:
    policy = directives(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]


def test_login_page_has_the_policy():
    assert_strict(Client().get("/accounts/login/"))


def test_dashboard_and_settings_have_the_policy(login, owner):
    client = login(owner)
    for path in ("/", "/invoices/", "/settings/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_strict(response)


def test_payment_page_has_the_policy(tenant_a):
    invoice = InvoiceFactory(tenant=tenant_a)
    response = Client().get(f"/p/{invoice.payment_token}")
    assert response.status_code == 200
    assert_strict(response)


def test_api_docs_have_the_policy():
    assert_strict(Client().get("/api/docs/"))


TEMPLATE_FILES = sorted((ROOT / "templates").rglob("*.html"))


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_hold_no_inline_script_or_style_block(path):
    text = path.read_text()
    inline_scripts = [
        tag for tag in re.findall(r"<script\b[^>]*>", text) if not re.search(r"\bsrc=", tag)
    ]
    assert not inline_scripts, "move the script into a file under static/js/"
    assert not re.search(r"\son[a-z]+\s*=", text), "use addEventListener in a static/js file"
    assert not re.search(r"<style\b", text), "move the rules into a file under static/css/"
    assert "javascript:" not in text
