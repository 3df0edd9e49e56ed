"""Invariant 1: another tenant's object is a 404 on every page and endpoint, and tenant-owned
querysets refuse to run outside a tenant scope."""

import json
from datetime import date, timedelta

import pytest
from django_scopes import scope, scopes_disabled
from django_scopes.exceptions import ScopeError

from collections_app.engine import ladder_evaluate
from collections_app.models import Customer, FollowUpTask, Interaction, Invoice, Ladder, Segment
from collections_app.payments.services import invoice_record_payment
from messaging.models import Message
from tests.collections_app.factories import InvoiceFactory

pytestmark = pytest.mark.django_db
DAY = date(2026, 12, 2)


@pytest.fixture
def b_objects(tenant_b):
    """One of everything in tenant B."""
    invoice = InvoiceFactory(
        tenant=tenant_b, external_id="B-INV", due_date=DAY - timedelta(days=15)
    )
    second = InvoiceFactory(tenant=tenant_b, external_id="B-INV-2", due_date=DAY)
    with scope(tenant=tenant_b):
        ladder_evaluate(tenant=tenant_b, today=DAY)
        payment, _ = invoice_record_payment(tenant=tenant_b, invoice=second, amount=second.amount)
        ladder = Ladder.objects.get()
        segment = Segment.objects.create(tenant=tenant_b, name="VIP", ladder=ladder)
        return {
            "invoice": invoice,
            "customer": Customer.objects.get(pk=invoice.customer_id),
            "payment": payment,
            "message": Message.objects.first(),
            "task": FollowUpTask.objects.first(),
            "interaction": Interaction.objects.first(),
            "ladder": ladder,
            "segment": segment,
        }


def test_querysets_refuse_to_run_without_a_scope(tenant_a):
    InvoiceFactory(tenant=tenant_a, due_date=DAY)
    for model in (Invoice, Customer, Message, Interaction):
        with pytest.raises(ScopeError):
            list(model.objects.all())


def test_a_scope_sees_only_its_tenant(tenant_a, tenant_b):
    InvoiceFactory(tenant=tenant_a, external_id="A", due_date=DAY)
    InvoiceFactory(tenant=tenant_b, external_id="B", due_date=DAY)
    with scope(tenant=tenant_a):
        assert list(Invoice.objects.values_list("external_id", flat=True)) == ["A"]


@pytest.mark.parametrize(
    "route, key",
    [
        ("invoices", "invoice"),
        ("customers", "customer"),
        ("payments", "payment"),
        ("messages", "message"),
        ("tasks", "task"),
        ("interactions", "interaction"),
        ("ladders", "ladder"),
        ("segments", "segment"),
    ],
)
def test_api_detail_of_another_tenant_is_404(api_a, b_objects, route, key):
    obj = b_objects[key]
    assert obj is not None
    assert api_a.get(f"/api/v1/{route}/{obj.pk}/").status_code == 404
    listed = [row["id"] for row in api_a.get(f"/api/v1/{route}/").json()["results"]]
    assert obj.pk not in listed


def test_api_cannot_update_another_tenants_objects(api_a, b_objects):

    task = b_objects["task"]
    response = api_a.patch(
        f"/api/v1/tasks/{task.pk}/", json.dumps({"status": "done"}), content_type="application/json"
    )
    assert response.status_code == 404
    # Posting B's external ids creates A's own rows and leaves B's untouched.
    response = api_a.post(
        "/api/v1/payments/",
        json.dumps({"invoice": "B-INV-2", "amount": "1"}),
        content_type="application/json",
    )
    assert response.status_code == 400 and "invoice" in response.json()
    with scopes_disabled():
        assert FollowUpTask.objects.get(pk=task.pk).status == "open"


def test_api_metrics_count_only_own_tenant(api_a, b_objects):
    body = api_a.get("/api/v1/metrics/?from=2026-11-01&to=2026-12-31").json()
    assert body["invoices_due"] == 0


@pytest.mark.parametrize("page, key", [("invoices", "invoice"), ("customers", "customer")])
def test_pages_of_another_tenant_are_404(login, owner, b_objects, page, key):
    client = login(owner)
    assert client.get(f"/{page}/{b_objects[key].pk}/").status_code == 404


def test_own_pages_work_for_the_owner(login, owner, tenant_a):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=DAY)
    client = login(owner)
    assert client.get(f"/invoices/{invoice.pk}/").status_code == 200
    assert client.get(f"/customers/{invoice.customer_id}/").status_code == 200
    assert client.get("/invoices/?status=open").status_code == 200


def test_dashboard_lists_only_own_interactions(login, owner, tenant_a, b_objects):
    response = login(owner).get("/")
    assert response.status_code == 200
    assert b_objects["customer"].name not in response.content.decode()
