"""The template editor (issue 16): only the fields of the template's channel, shown and saved;
the preview with the tenant's own name and one of its own invoices; errors in plain words."""

import re

import pytest
from django.utils.html import escape
from django_scopes import scope, scopes_disabled

from messaging.models import Template
from tenants.models import Role
from tests.collections_app.factories import InvoiceFactory
from tests.tenants.factories import MembershipFactory, TenantFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
SID = "HX" + "a" * 32


@pytest.fixture
def bakery(db):
    return TenantFactory(slug="padaria", name="Padaria Sol Nascente")


@pytest.fixture
def baker(bakery):
    return MembershipFactory(tenant=bakery, role=Role.ADMIN).user


def data(**extra):
    return {
        "key": "lembrete",
        "name": "Lembrete",
        "channel": "sms",
        "locale": "pt-br",
        "subject": "",
        "body": "{{ company_name }}: fatura {{ invoice_number }} de {{ amount }}",
        "content_sid": "",
        "content_variables": "",
        **extra,
    }


def field_box(page: str, name: str) -> str:
    start = page.index(f'data-field="{name}"')
    return page[start : page.index(">", start)]


def template_of(tenant, channel) -> Template:
    with scope(tenant=tenant):
        return Template.objects.filter(channel=channel).first()


@pytest.mark.parametrize(
    "channel, shown, hidden",
    [
        ("sms", ["body"], ["subject", "content_sid", "content_variables"]),
        ("email", ["subject", "body"], ["content_sid", "content_variables"]),
        ("whatsapp", ["body", "content_sid", "content_variables"], ["subject"]),
    ],
)
def test_the_editor_shows_only_the_fields_of_the_channel(
    login, owner, tenant_a, channel, shown, hidden
):
    template = template_of(tenant_a, channel)
    page = login(owner).get(f"/settings/templates/{template.pk}/").content.decode()
    for name in shown:
        assert " hidden" not in field_box(page, name), name
    for name in hidden:
        assert " hidden" in field_box(page, name), name
    assert 'data-channels="email"' in field_box(page, "subject")
    assert 'data-channels="whatsapp"' in field_box(page, "content_sid")
    assert "js/template-channel.js" in page


def test_fields_not_of_the_channel_are_ignored_and_cleared_on_save(login, owner, tenant_a):
    client = login(owner)
    response = client.post(
        "/settings/templates/new/",
        data(subject="Assunto esquecido", content_sid=SID, content_variables="customer_name"),
    )
    assert response.status_code == 302
    with scope(tenant=tenant_a):
        saved = Template.objects.get(key="lembrete", channel="sms")
    assert (saved.subject, saved.content_sid, saved.content_variables) == ("", "", [])
    # The preview ignores them too: no "only WhatsApp has a Content SID" for a hidden field.
    preview = client.post(
        "/settings/templates/preview/", data(content_sid="HXnope"), **HTMX
    ).content.decode()
    assert 'data-preview-ok="true"' in preview


def test_the_preview_uses_the_tenant_name_and_one_of_its_own_invoices(login, baker, bakery):
    client = login(baker)
    without = client.post("/settings/templates/preview/", data(), **HTMX).content.decode()
    assert "Padaria Sol Nascente: fatura NF-2026-0042" in without  # own name, sample invoice
    assert "valores de exemplo" in without

    InvoiceFactory(tenant=bakery, number="NF-777", amount="321.09")
    page = client.post("/settings/templates/preview/", data(), **HTMX).content.decode()
    assert "Padaria Sol Nascente: fatura NF-777 de R$ 321,09" in page
    assert "Pré-visualização com a sua fatura NF-777" in page
    with scopes_disabled():
        template = Template.objects.filter(tenant=bakery, channel="sms").first()
    editor = client.get(f"/settings/templates/{template.pk}/").content.decode()
    assert "A pré-visualização usa a sua fatura NF-777." in editor
    assert "Pré-visualização com a sua fatura NF-777" in editor


@pytest.mark.parametrize(
    "body, message",
    [
        ("Faltam {{ dias }} dias", "Variável desconhecida: dias"),
        ("{{ dias }} {{ juros }}", "Variáveis desconhecidas: dias, juros"),
        ("Olá {{ customer_name", "Um {{ não foi fechado: acrescente }}."),
        ("{% if amount %}pague", "{% if %} não foi fechado: acrescente {% endif %}."),
        ("{{ customer_name amount }}", "Só cabe uma variável entre {{ e }} (sobrou “amount”)."),
        ("{% pague %}", "Comando desconhecido: {% pague %}."),
    ],
)
def test_errors_read_in_plain_portuguese(login, owner, body, message):
    page = (
        login(owner).post("/settings/templates/preview/", data(body=body), **HTMX).content.decode()
    )
    assert 'data-preview-ok="false"' in page
    assert escape(message) in page
    assert "Jinja" not in page and "end of print statement" not in page


def test_a_refused_template_keeps_what_was_typed_each_error_beside_its_field(login, owner):
    """An unknown variable in the subject and in the text: 400, each message bound to its own
    field (aria-invalid, aria-describedby), in pt-BR, nothing at the top, the subject focused."""
    typed = data(channel="email", subject="Aviso {{ prazo }}", body="Faltam {{ dias }} dias")
    answer = login(owner).post("/settings/templates/new/", typed)
    assert answer.status_code == 400
    page = answer.content.decode()
    for name, message in [
        ("subject", "Variável desconhecida: prazo"),
        ("body", "Variável desconhecida: dias"),
    ]:
        box = page[page.index(f'data-field="{name}"') :]
        box = box[: box.index("</div><div") if "</div><div" in box else len(box)]
        assert f'<ul class="errorlist" id="id_{name}_error"><li>{escape(message)}</li>' in box
        tag = re.search(rf'<(?:input|textarea)[^>]*\bid="id_{name}"[^>]*>', box).group(0)
        assert 'aria-invalid="true"' in tag
        assert re.search(rf'aria-describedby="[^"]*\bid_{name}_error\b', tag), tag
        assert ("autofocus" in tag) == (name == "subject")  # the first field to fix
    assert 'value="Aviso {{ prazo }}"' in page and "Faltam {{ dias }} dias</textarea>" in page
    assert 'id="form-errors"' not in page and "flash-error" not in page
    with scopes_disabled():
        assert not Template.objects.filter(key="lembrete", channel="email").exists()
