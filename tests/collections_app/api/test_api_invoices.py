import json
from datetime import date

import pytest
from django_scopes import scopes_disabled

from collections_app.models import Customer, Invoice
from tests.collections_app.factories import InvoiceFactory

pytestmark = pytest.mark.django_db


def post(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


def invoice_payload(ext="INV-1", customer_ext="C-1", **overrides):
    data = {
        "external_id": ext,
        "amount": "1234.50",
        "issue_date": "2026-11-01",
        "due_date": "2026-12-01",
        "customer": {
            "external_id": customer_ext,
            "name": "Maria Souza",
            "email": "maria@example.com",
            "phone": "(11) 98765-4321",
            "document": "529.982.247-25",
        },
    }
    data.update(overrides)
    return data


def test_create_one_invoice_with_inline_customer(api_a, tenant_a):
    response = post(api_a, "/api/v1/invoices/", invoice_payload())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"] > 0
    assert body["external_id"] == "INV-1"
    assert body["amount"] == "1234.50"
    assert body["status"] == "open"
    assert body["customer"]["external_id"] == "C-1"
    assert body["payment_url"].startswith("http://127.0.0.1:8000/p/")
    with scopes_disabled():
        customer = Customer.objects.get(tenant=tenant_a, external_id="C-1")
    assert customer.phone == "+5511987654321"
    assert customer.document == "52998224725"


def test_post_again_upserts_by_external_id(api_a, tenant_a):
    assert post(api_a, "/api/v1/invoices/", invoice_payload()).status_code == 201
    response = post(api_a, "/api/v1/invoices/", invoice_payload(amount="99.90"))
    assert response.status_code == 200
    with scopes_disabled():
        invoices = list(Invoice.objects.filter(tenant=tenant_a))
    assert len(invoices) == 1
    assert str(invoices[0].amount) == "99.90"


def test_list_is_created_atomically(api_a, tenant_a):
    items = [invoice_payload(f"INV-{i}", customer_ext="C-1") for i in range(3)]
    response = post(api_a, "/api/v1/invoices/", items)
    assert response.status_code == 201
    assert [item["external_id"] for item in response.json()] == ["INV-0", "INV-1", "INV-2"]
    with scopes_disabled():
        assert Invoice.objects.filter(tenant=tenant_a).count() == 3
        assert Customer.objects.filter(tenant=tenant_a).count() == 1


def test_one_bad_item_rejects_the_whole_list_with_errors_per_item(api_a, tenant_a):
    items = [
        invoice_payload("INV-1"),
        invoice_payload("INV-2", amount="-5", due_date="31/02/2026"),
        invoice_payload("INV-3", customer={"external_id": "C-9", "name": "X", "phone": "123"}),
    ]
    response = post(api_a, "/api/v1/invoices/", items)
    assert response.status_code == 400
    errors = response.json()
    assert len(errors) == 3
    assert errors[0] == {}
    assert set(errors[1]) == {"amount", "due_date"}
    assert "phone" in errors[2]["customer"]
    with scopes_disabled():
        assert not Invoice.objects.filter(tenant=tenant_a).exists()
        assert not Customer.objects.filter(tenant=tenant_a).exists()


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"amount": "abc"}, "amount"),
        ({"due_date": "2026-10-01"}, "due_date"),  # before issue_date
        ({"customer": {"external_id": "NEW"}}, "customer"),  # new customer without a name
        ({"customer": "UNKNOWN"}, "customer"),
        (
            {"customer": {"external_id": "C-1", "name": "A", "document": "111.111.111-11"}},
            "customer",
        ),
        ({"external_id": ""}, "external_id"),
    ],
)
def test_bad_input_gets_400_with_field_errors_and_nothing_written(api_a, tenant_a, payload, field):
    response = post(api_a, "/api/v1/invoices/", invoice_payload(**payload))
    assert response.status_code == 400
    assert field in response.json()
    with scopes_disabled():
        assert not Invoice.objects.filter(tenant=tenant_a).exists()


def test_malformed_json_is_a_400_not_a_500(api_a):
    response = api_a.post("/api/v1/invoices/", "{not json", content_type="application/json")
    assert response.status_code == 400


def test_repeated_external_id_in_one_list_is_refused(api_a, tenant_a):
    response = post(api_a, "/api/v1/invoices/", [invoice_payload("X"), invoice_payload("X")])
    assert response.status_code == 400
    assert "external_id" in response.json()[1]


def test_list_is_paginated_the_drf_way(api_a, tenant_a):
    post(api_a, "/api/v1/invoices/", [invoice_payload(f"INV-{i}") for i in range(3)])
    body = api_a.get("/api/v1/invoices/?page_size=2").json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"] and body["previous"] is None


def test_filters_by_status_and_due_range(api_a, tenant_a):
    InvoiceFactory(tenant=tenant_a, external_id="EARLY", due_date=date(2026, 11, 2))
    InvoiceFactory(tenant=tenant_a, external_id="LATE", due_date=date(2026, 12, 20))
    body = api_a.get("/api/v1/invoices/?due_from=2026-12-01&status=open").json()
    assert [r["external_id"] for r in body["results"]] == ["LATE"]
    assert api_a.get("/api/v1/invoices/?due_from=yesterday").status_code == 400


def test_effective_due_date_moves_to_next_business_day(api_a):
    # 2026-11-15 (Sunday, Proclamação da República) → Monday 16/11.
    body = post(api_a, "/api/v1/invoices/", invoice_payload(due_date="2026-11-15")).json()
    assert body["effective_due_date"] == "2026-11-16"


def test_without_key_is_401_and_revoked_key_is_refused(client, tenant_a):
    assert client.get("/api/v1/invoices/").status_code == 401
    bad = client.get("/api/v1/invoices/", HTTP_AUTHORIZATION="Api-Key rg_nope_nope")
    assert bad.status_code == 401
