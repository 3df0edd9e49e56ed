"""`POST /api/v1/invoices/<id>/dispute/ {"reason": …}` opens a dispute and `DELETE` on the same
URL clears it, through the service the invoice page uses; `?disputed=true` lists them."""

import json
from datetime import timedelta

import pytest
from django_scopes import scopes_disabled

from collections_app.models import Interaction, Invoice
from tenants.selectors import tenant_today
from tests.collections_app.factories import InvoiceFactory

pytestmark = pytest.mark.django_db


def overdue(tenant) -> Invoice:
    return InvoiceFactory(tenant=tenant, due_date=tenant_today(tenant=tenant) - timedelta(days=9))


def post_dispute(api, invoice, body):
    return api.post(
        f"/api/v1/invoices/{invoice.pk}/dispute/", json.dumps(body), content_type="application/json"
    )


def entries(invoice) -> list[str]:
    with scopes_disabled():
        return list(
            Interaction.objects.filter(invoice_id=invoice.pk, kind="dispute")
            .order_by("id")
            .values_list("summary", flat=True)
        )


def test_open_and_clear_a_dispute(api_a, tenant_a):
    invoice = overdue(tenant_a)
    response = post_dispute(api_a, invoice, {"reason": "Não reconhece a compra"})
    assert response.status_code == 200
    body = response.json()
    assert body["disputed"] is True and body["dispute_reason"] == "Não reconhece a compra"
    listed = api_a.get("/api/v1/invoices/?disputed=true").json()
    assert [i["id"] for i in listed["results"]] == [invoice.pk]

    response = api_a.delete(f"/api/v1/invoices/{invoice.pk}/dispute/")
    assert response.status_code == 200
    assert response.json()["disputed"] is False and response.json()["dispute_reason"] == ""
    assert api_a.get("/api/v1/invoices/?disputed=true").json()["count"] == 0
    assert entries(invoice) == [
        "Contestação aberta: Não reconhece a compra",
        "Contestação encerrada",
    ]
    # Clearing again changes nothing and writes nothing.
    assert api_a.delete(f"/api/v1/invoices/{invoice.pk}/dispute/").status_code == 200
    assert len(entries(invoice)) == 2


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 301}])
def test_a_reason_is_required(api_a, tenant_a, body):
    invoice = overdue(tenant_a)
    response = post_dispute(api_a, invoice, body)
    assert response.status_code == 400 and "reason" in response.json()
    with scopes_disabled():
        assert not Invoice.objects.get(pk=invoice.pk).disputed
    assert entries(invoice) == []


def test_a_paid_invoice_cannot_be_disputed(api_a, tenant_a):
    invoice = overdue(tenant_a)
    with scopes_disabled():
        Invoice.objects.filter(pk=invoice.pk).update(status="paid")
    response = post_dispute(api_a, invoice, {"reason": "Tarde demais"})
    assert response.status_code == 400
    assert response.json()["reason"] == ["Só uma fatura em aberto pode ser contestada."]


def test_a_bad_disputed_filter_is_a_400(api_a):
    assert api_a.get("/api/v1/invoices/?disputed=maybe").status_code == 400


def test_another_tenants_invoice_is_a_404(api_b, tenant_a):
    invoice = overdue(tenant_a)
    assert post_dispute(api_b, invoice, {"reason": "x"}).status_code == 404
    assert api_b.delete(f"/api/v1/invoices/{invoice.pk}/dispute/").status_code == 404
    with scopes_disabled():
        assert not Invoice.objects.get(pk=invoice.pk).disputed
    assert entries(invoice) == []
