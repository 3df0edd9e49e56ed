"""CPF/CNPJ and Pix keys as people type them: with or without punctuation, the alphanumeric
CNPJ in any case. Every way in (the API, one item or a list, inline customers, the admin, the
payment page, the search box, the company page's Pix key) normalises before any length rule,
checks the check digits, stores one form, and refuses bad input in pt-BR writing nothing."""

import ast
import json

import pytest
from django.test import Client
from django_scopes import scopes_disabled

from collections_app.documents import document_normalize
from collections_app.models import Customer, Invoice
from collections_app.payments.pix import BRCode, PixError, brcode_parse
from tenants.documents import cnpj_check_digits
from tenants.models import Tenant, User
from tenants.pix_keys import pix_key_kind, pix_key_normalize
from tests.collections_app.factories import InvoiceFactory
from tests.paths import ROOT
from tests.tenants.test_settings_pages import company_form

pytestmark = pytest.mark.django_db

CPF = "52998224725"
CNPJ = "16727230000197"
CNPJ_ALPHA = "12ABC34501DE35"  # the Receita Federal's own example


def post(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


def customers(tenant) -> dict[str, str]:
    """external_id → stored document."""
    with scopes_disabled():
        return dict(Customer.objects.filter(tenant=tenant).values_list("external_id", "document"))


# --- The rule -------------------------------------------------------------------------------


def test_the_receita_federal_example_of_an_alphanumeric_cnpj_is_valid():
    assert cnpj_check_digits("12ABC34501DE") == "35"
    assert document_normalize("12.ABC.345/01DE-35") == CNPJ_ALPHA
    assert document_normalize("12.abc.345/01de-35") == CNPJ_ALPHA
    with pytest.raises(ValueError, match="CNPJ"):
        document_normalize("12.ABC.345/01DE-36")


def test_a_very_long_value_is_refused_without_being_echoed_in_full():
    with pytest.raises(ValueError) as error:
        document_normalize("1" * 5000)
    assert len(str(error.value)) < 200


# --- The API --------------------------------------------------------------------------------

TYPED = [
    ("CPF-F", "529.982.247-25", CPF),
    ("CPF-B", CPF, CPF),
    ("CNPJ-F", "16.727.230/0001-97", CNPJ),
    ("CNPJ-B", CNPJ, CNPJ),
    ("ALPHA-F", "12.ABC.345/01DE-35", CNPJ_ALPHA),
    ("ALPHA-L", "12abc34501de35", CNPJ_ALPHA),
    ("ALPHA-B", CNPJ_ALPHA, CNPJ_ALPHA),
]


@pytest.mark.parametrize(("ext", "typed", "stored"), TYPED)
def test_one_customer_posted_formatted_or_bare_is_stored_bare(api_a, tenant_a, ext, typed, stored):
    response = post(
        api_a, "/api/v1/customers/", {"external_id": ext, "name": "A", "document": typed}
    )
    assert response.status_code == 201, response.content
    assert response.json()["document"] == stored
    assert customers(tenant_a) == {ext: stored}


def test_a_list_of_customers_formatted_and_bare_is_stored_identically(api_a, tenant_a):
    items = [{"external_id": ext, "name": ext, "document": typed} for ext, typed, _ in TYPED]
    response = post(api_a, "/api/v1/customers/", items)
    assert response.status_code == 201, response.content
    assert customers(tenant_a) == {ext: stored for ext, _typed, stored in TYPED}


def test_an_update_with_a_formatted_cnpj_is_stored_bare(api_a, tenant_a):
    created = post(api_a, "/api/v1/customers/", {"external_id": "C-1", "name": "A"}).json()
    response = api_a.patch(
        f"/api/v1/customers/{created['id']}/",
        json.dumps({"document": "16.727.230/0001-97"}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert customers(tenant_a) == {"C-1": CNPJ}


def test_an_invoice_with_its_customer_inline_takes_a_formatted_cnpj(api_a, tenant_a):
    invoice = {
        "external_id": "INV-1",
        "amount": "100.00",
        "issue_date": "2026-11-01",
        "due_date": "2026-12-10",
        "customer": {"external_id": "C-1", "name": "Escola", "document": "12.ABC.345/01DE-35"},
    }
    second = {**invoice, "external_id": "INV-2"}
    second["customer"] = {"external_id": "C-2", "name": "Loja", "document": "16.727.230/0001-97"}
    assert post(api_a, "/api/v1/invoices/", invoice).status_code == 201
    assert post(api_a, "/api/v1/invoices/", [second]).status_code == 201
    assert customers(tenant_a) == {"C-1": CNPJ_ALPHA, "C-2": CNPJ}


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("123.456.789-00", "não é um CPF válido: os dígitos verificadores não conferem"),
        ("12345678900", "não é um CPF válido"),
        ("16.727.230/0001-98", "não é um CNPJ válido: os dígitos verificadores não conferem"),
        ("12.ABC.345/01DE-00", "não é um CNPJ válido"),
        ("1234", "não é um CPF (11 dígitos) nem um CNPJ (14 caracteres)"),
        ("16.727.230/0001-97-1", "não é um CPF (11 dígitos) nem um CNPJ (14 caracteres)"),
        # Letters and digits that clean up to 14 characters are not a CNPJ by chance.
        ("CPF 123.456.700-21", "não é um CPF nem um CNPJ: escreva o CPF como 529.982.247-25"),
    ],
)
def test_a_bad_document_gets_a_pt_br_error_and_nothing_is_written(api_a, tenant_a, typed, message):
    alone = post(
        api_a, "/api/v1/customers/", {"external_id": "C-1", "name": "A", "document": typed}
    )
    assert alone.status_code == 400
    assert message in alone.json()["document"][0]
    items = [
        {"external_id": "C-2", "name": "B", "document": CPF},
        {"external_id": "C-3", "name": "C", "document": typed},
    ]
    listed = post(api_a, "/api/v1/customers/", items)
    assert listed.status_code == 400
    assert listed.json()[0] == {} and message in listed.json()[1]["document"][0]
    inline = {
        "external_id": "INV-1",
        "amount": "100.00",
        "issue_date": "2026-11-01",
        "due_date": "2026-12-10",
        "customer": {"external_id": "C-4", "name": "D", "document": typed},
    }
    answer = post(api_a, "/api/v1/invoices/", inline)
    assert answer.status_code == 400
    assert message in answer.json()["customer"]["document"][0]
    assert customers(tenant_a) == {}
    with scopes_disabled():
        assert not Invoice.objects.filter(tenant=tenant_a).exists()


# --- Pages ----------------------------------------------------------------------------------


def test_the_invoice_search_finds_a_customer_by_a_typed_document_in_its_own_tenant_only(
    tenant_a, tenant_b, owner, login
):
    mine = InvoiceFactory(
        tenant=tenant_a,
        due_date=tenant_a.created_at.date(),
        customer={"external_id": "C-1", "name": "Maria", "document": CNPJ_ALPHA},
    )
    theirs = InvoiceFactory(
        tenant=tenant_b,
        due_date=tenant_b.created_at.date(),
        customer={"external_id": "C-1", "name": "Maria", "document": CNPJ_ALPHA},
    )
    html = (
        login(owner)
        .get("/invoices/", {"status": "all", "q": "12.abc.345/01de-35"})
        .content.decode()
    )
    assert f"/invoices/{mine.pk}/" in html
    assert f"/invoices/{theirs.pk}/" not in html


def test_the_admin_stores_a_formatted_document_bare_and_refuses_a_bad_one(client, tenant_a):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=tenant_a.created_at.date())
    User.objects.create_superuser(email="ops@regua.local", password="senha-segura-123")
    client.login(email="ops@regua.local", password="senha-segura-123")
    with scopes_disabled():
        customer = Customer.objects.get(pk=invoice.customer_id)
    url = f"/admin/collections_app/customer/{customer.pk}/change/"
    form = {
        "tenant": tenant_a.pk,
        "external_id": customer.external_id,
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
        "whatsapp": "",
        "preferred_channels": "[]",
        "opted_out_channels": "[]",
        "invalid_channels": "[]",
        "tags": "[]",
        "segment_reason": "",
        "behaviour": customer.behaviour,
        "created_at_0": "2026-11-01",
        "created_at_1": "10:00:00",
    }
    bad = client.post(url, {**form, "document": "16.727.230/0001-98"})
    assert bad.status_code == 200
    assert "não é um CNPJ válido" in bad.content.decode()
    with scopes_disabled():
        assert Customer.objects.get(pk=customer.pk).document == ""
    good = client.post(url, {**form, "document": "16.727.230/0001-97"})
    assert good.status_code == 302, good.content.decode()[:2000]
    with scopes_disabled():
        assert Customer.objects.get(pk=customer.pk).document == CNPJ


@pytest.mark.parametrize("typed", ["16.727", "16727", "16.727.230/0001-97", CNPJ])
def test_the_debtor_confirms_with_the_first_digits_or_the_whole_document(client, tenant_a, typed):
    due = tenant_a.created_at.date()
    customer = {"external_id": "LOJA", "name": "Loja", "document": CNPJ}
    invoice = InvoiceFactory(tenant=tenant_a, due_date=due, customer=customer)
    other = InvoiceFactory(tenant=tenant_a, due_date=due, customer=customer, amount="250.00")
    url = f"/p/{invoice.payment_token}/identify"
    html = client.post(url, {"document": typed}, follow=True).content.decode()
    assert other.payment_token in html
    wrong = Client().post(url, {"document": "16.727.230/0001-96"}, follow=True)
    assert other.payment_token not in wrong.content.decode()


# --- Pix keys -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored", "kind"),
    [
        ("529.982.247-25", CPF, "cpf"),
        (" 16.727.230/0001-97 ", CNPJ, "cnpj"),
        ("12.abc.345/01de-35", CNPJ_ALPHA, "cnpj"),
        ("Financeiro@Escola.com.br", "financeiro@escola.com.br", "email"),
        ("+55 (11) 98765-4321", "+5511987654321", "phone"),
        ("123E4567-E12B-12D1-A456-426655440000", "123e4567-e12b-12d1-a456-426655440000", "evp"),
    ],
)
def test_a_pix_key_is_stored_in_the_form_the_br_code_carries(
    tenant_a, owner, login, typed, stored, kind
):
    response = login(owner).post("/settings/company/", company_form(tenant_a, pix_key=typed))
    assert response.status_code == 302
    tenant_a.refresh_from_db()
    assert tenant_a.pix_key == stored and pix_key_kind(stored) == kind
    code = BRCode(key=tenant_a.pix_key, merchant_name="Escola", merchant_city="Recife").payload()
    assert brcode_parse(code)["26.01"] == stored


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("12345678900", "não é um CPF válido: os dígitos verificadores não conferem"),
        ("11987654321", "Uma chave de celular se escreve com +55"),
        ("16.727.230/0001-98", "não é um CNPJ válido"),
        ("+1 415 555 2671", "não é um número brasileiro"),
        ("+55 11 3333-4444", "não é um celular brasileiro"),
        ("+55", "não é um número de telefone"),
        ("financeiro@", "não é um endereço de e-mail válido"),
        ("financeiro@escolaaurorá.com.br", "sem acentos"),
        ("a" * 70 + "@escola.com.br", "no máximo 77 caracteres"),
        ("123e4567-e12b-12d1-a456-42665544000", "não é uma chave Pix"),
        ("(11) 98765-4321", "não é uma chave Pix"),
        ("chave errada", "não é uma chave Pix"),
    ],
)
def test_a_pix_key_that_fits_no_type_is_refused_in_pt_br_and_nothing_changes(
    tenant_a, owner, login, typed, message
):
    before = Tenant.objects.values().get(pk=tenant_a.pk)
    response = login(owner).post("/settings/company/", company_form(tenant_a, pix_key=typed))
    assert response.status_code == 200
    errors = response.context["form"].errors["pix_key"]
    assert any(message in error for error in errors), errors
    assert 'id="id_pix_key-error"' in response.content.decode()
    assert Tenant.objects.values().get(pk=tenant_a.pk) == before


def test_an_empty_pix_key_is_allowed():
    assert pix_key_normalize("  ") == ""
    assert pix_key_kind("") is None


def test_a_key_saved_before_the_rule_is_normalised_or_refused_by_the_br_code():
    code = BRCode(key="529.982.247-25", merchant_name="Escola", merchant_city="Recife")
    assert brcode_parse(code.payload())["26.01"] == CPF
    with pytest.raises(PixError, match="Pix key"):
        BRCode(key="12345678900", merchant_name="Escola", merchant_city="Recife").payload()


def test_tenants_imports_nothing_from_the_apps_above_it():
    """The document and Pix key rules live in `tenants` so that it needs nothing above it."""
    root = ROOT / "tenants"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                assert not name.startswith(("collections_app", "messaging")), (path, name)
