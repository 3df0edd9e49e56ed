"""`POST /api/v1/invoices/` with a list: validated item after item by one serializer, with the
invoices and customers the items name read once for the whole list. Each item must get what it
would get alone, and the number of queries must not grow with the number of items."""

import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from collections_app.models import Customer, Invoice, Ladder, Segment

pytestmark = pytest.mark.django_db

URL = "/api/v1/invoices/"


def post(client, data):
    return client.post(URL, json.dumps(data), content_type="application/json")


def item(ext, customer: str | dict = "C-1", **overrides):
    """An invoice with its customer inline: `customer` is the inline object or its external_id
    (named after it)."""
    if isinstance(customer, str):
        customer = {"external_id": customer, "name": f"Cliente {customer}"}
    return {
        "external_id": ext,
        "amount": "100.00",
        "issue_date": "2026-11-01",
        "due_date": "2026-12-01",
        "customer": customer,
        **overrides,
    }


def ref(ext, customer: str, **overrides):
    """An invoice of an existing customer, given by its external_id alone."""
    return {**item(ext, **overrides), "customer": customer}


def invoices(tenant) -> dict[str, Invoice]:
    with scopes_disabled():
        return {i.external_id: i for i in Invoice.objects.filter(tenant=tenant)}


def test_each_item_of_a_mixed_list_gets_the_errors_it_gets_alone_and_nothing_is_written(
    api_a, tenant_a
):
    assert post(api_a, item("OLD", customer="C-OLD")).status_code == 201
    items = [
        item("NEW-1"),
        item("NEW-2", amount="-5", due_date="31/02/2026"),
        {"external_id": "OLD", "amount": "7.00"},  # an update: the other fields may be left out
        {"external_id": "NEW-3", "amount": "7.00"},  # new: they may not
        item("NEW-4", customer={"external_id": "C-9", "name": "X", "phone": "123"}),
        ref("NEW-5", "UNKNOWN"),
        item("NEW-6", customer={"external_id": "C-NEW"}),  # a new customer without a name
        item("NEW-7", due_date="2026-10-01"),
        {"external_id": "OLD", "due_date": "2026-10-01"},  # before the stored issue date
        item("NEW-8", customer={"external_id": "C-OLD", "email": "not an address"}),
        ref("NEW-9", "C-OLD"),
    ]
    response = post(api_a, items)

    assert response.status_code == 400
    errors = response.json()
    assert len(errors) == len(items)
    assert [bool(e) for e in errors] == [False, True, False, True] + [True] * 6 + [False]
    assert set(errors[3]) == {"customer", "issue_date", "due_date"}
    assert sorted(invoices(tenant_a)) == ["OLD"]
    for position, one in enumerate(items):
        answer = post(api_a, one)
        expected = {} if answer.status_code in (200, 201) else answer.json()
        assert errors[position] == expected, position


def test_a_refused_list_writes_nothing(api_a, tenant_a):
    assert post(api_a, item("OLD", customer="C-OLD")).status_code == 201
    items = [
        item("NEW-1", customer={"external_id": "C-NEW", "name": "Nova"}),
        {"external_id": "OLD", "amount": "7.00", "customer": {"external_id": "C-OLD", "name": "B"}},
        item("NEW-2", amount="abc"),
    ]
    response = post(api_a, items)

    assert response.status_code == 400
    assert response.json()[:2] == [{}, {}]
    assert list(invoices(tenant_a)) == ["OLD"]
    assert invoices(tenant_a)["OLD"].amount == Decimal("100.00")
    with scopes_disabled():
        assert [c.name for c in Customer.objects.filter(tenant=tenant_a)] == ["Cliente C-OLD"]


def test_an_update_and_a_creation_in_one_list_leave_no_trace_on_each_other(api_a, tenant_a):
    """One serializer validates the new items and another the updates: a partial update must
    not let a new item leave its fields out, nor the reverse."""
    assert post(api_a, item("OLD")).status_code == 201
    for items in (
        [{"external_id": "OLD", "amount": "5.00"}, {"external_id": "NEW", "amount": "5.00"}],
        [{"external_id": "NEW", "amount": "5.00"}, {"external_id": "OLD", "amount": "5.00"}],
    ):
        errors = post(api_a, items).json()
        new = errors[[i["external_id"] for i in items].index("NEW")]
        old = errors[[i["external_id"] for i in items].index("OLD")]
        assert set(new) == {"customer", "issue_date", "due_date"} and old == {}


def test_existing_invoices_are_updated_and_new_ones_created(api_a, tenant_a):
    first = post(api_a, [item("A", amount="10.00"), item("B", amount="20.00")])
    assert first.status_code == 201
    before = invoices(tenant_a)

    response = post(
        api_a,
        [
            {"external_id": "B", "amount": "25.00"},
            item("C", customer="C-2"),
            {"external_id": "A"},  # named again, unchanged
        ],
    )

    assert response.status_code == 201
    body = response.json()
    assert [(i["external_id"], i["amount"]) for i in body] == [
        ("B", "25.00"),
        ("C", "100.00"),
        ("A", "10.00"),
    ]
    after = invoices(tenant_a)
    assert sorted(after) == ["A", "B", "C"]
    assert after["B"].pk == before["B"].pk and after["B"].amount == Decimal("25.00")
    assert after["B"].due_date == before["B"].due_date  # left out, kept
    assert after["A"].amount == Decimal("10.00")
    assert after["A"].updated_at > before["A"].updated_at  # named, so touched
    assert body[0]["id"] == before["B"].pk and body[2]["id"] == before["A"].pk

    again = post(api_a, [{"external_id": "A"}, {"external_id": "C", "description": "x"}])
    assert again.status_code == 200  # nothing new
    assert invoices(tenant_a)["C"].description == "x"


def test_an_invoice_moves_to_a_customer_given_inline_and_the_customer_is_updated(api_a, tenant_a):
    assert post(api_a, item("A", customer="C-1")).status_code == 201
    response = post(
        api_a,
        [
            {"external_id": "A", "customer": {"external_id": "C-2", "name": "Dois"}},
            ref("B", "C-1"),
            {**item("C"), "customer": {"external_id": "C-1", "email": "um@example.com"}},
        ],
    )

    assert response.status_code == 201, response.content
    after = invoices(tenant_a)
    with scopes_disabled():
        customers = {c.external_id: c for c in Customer.objects.filter(tenant=tenant_a)}
    assert after["A"].customer_id == customers["C-2"].pk
    assert after["B"].customer_id == customers["C-1"].pk
    assert customers["C-1"].email == "um@example.com"
    assert customers["C-1"].name == "Cliente C-1"  # left out, kept


def test_a_repeated_external_id_is_refused_on_its_later_items(api_a, tenant_a):
    assert post(api_a, item("OLD")).status_code == 201
    items = [
        item("X"),
        {"external_id": "OLD", "amount": "1.00"},
        item("X", amount="2.00"),
        item("Y"),
        {"external_id": "OLD", "amount": "3.00"},
        item("X", amount="4.00"),
    ]
    response = post(api_a, items)

    assert response.status_code == 400
    errors = response.json()
    assert [list(e) for e in errors] == [
        [],
        [],
        ["external_id"],
        [],
        ["external_id"],
        ["external_id"],
    ]
    assert errors[2] == errors[4] == errors[5] and len(errors[2]["external_id"]) == 1
    assert sorted(invoices(tenant_a)) == ["OLD"]
    assert invoices(tenant_a)["OLD"].amount == Decimal("100.00")


def test_an_invalid_first_item_does_not_make_its_repeat_a_repeat(api_a):
    """As before: an item is counted once it is valid, so the repeat of an invalid item gets
    its own errors (or none)."""
    errors = post(api_a, [item("X", amount="abc"), item("X")]).json()
    assert list(errors[0]) == ["amount"] and errors[1] == {}


def test_a_customer_named_in_one_item_may_be_given_by_external_id_alone_in_another(api_a):
    items = [
        item("A", customer={"external_id": "C-NEW"}),  # named below
        item("B", customer={"external_id": "C-NEW", "name": "Nova"}),
    ]
    assert post(api_a, items).status_code == 201
    # A bare external_id names an existing customer only, not one created by the same list.
    refused = post(
        api_a,
        [item("E", customer={"external_id": "C-4", "name": "Q"}), ref("F", "C-4")],
    )
    assert refused.status_code == 400
    assert list(refused.json()[1]) == ["customer"]


def queries_for(api, prefix: str, n: int, segment: int) -> list[str]:
    """Post `n` items (half of them updates of invoices posted before) with inline customers
    (some existing, all in a segment) and bare customer ids; return the statements run."""
    old = [item(f"{prefix}-{k}", customer=f"{prefix}-C{k % 7}") for k in range(0, n, 2)]
    assert post(api, old + [item(f"{prefix}-OLD", customer=f"{prefix}-BARE")]).status_code == 201
    items = []
    for k in range(n):
        amount = f"{k + 1}.00"
        if k % 3 == 0:
            items.append(ref(f"{prefix}-{k}", f"{prefix}-BARE", amount=amount))
            continue
        customer = {"external_id": f"{prefix}-C{k % 11}", "name": f"C {k % 11}", "segment": segment}
        items.append(item(f"{prefix}-{k}", customer, amount=amount))
    with CaptureQueriesContext(connection) as captured:
        response = post(api, items)
    assert response.status_code == 201, response.content
    assert len(response.json()) == n
    return [q["sql"] for q in captured.captured_queries]


def test_the_queries_of_a_list_do_not_grow_with_its_items(api_a, tenant_a):
    with scopes_disabled():
        ladder = Ladder.objects.get(tenant=tenant_a, is_default=True)
        segment = Segment.objects.create(tenant=tenant_a, name="VIP", ladder=ladder).pk

    small = queries_for(api_a, "S", 20, segment)
    large = queries_for(api_a, "L", 200, segment)

    def inserts(queries):
        return [q for q in queries if q.startswith("INSERT")]

    def others(queries):
        return [q for q in queries if not q.startswith("INSERT")]

    assert len(others(large)) == len(others(small)) < 40
    # SQLite takes about thirty invoice rows per INSERT (its 999 parameters); PostgreSQL all.
    assert len(inserts(large)) <= len(inserts(small)) + 200 // 25
    with scopes_disabled():
        assert Invoice.objects.filter(tenant=tenant_a, external_id__startswith="L-").count() == 201
        assert Customer.objects.filter(tenant=tenant_a, segment_id=segment).count() == 11 + 10


def test_another_tenants_invoices_and_customers_are_not_seen(api_a, api_b, tenant_a, tenant_b):
    assert post(api_b, [item("SHARED", customer="C-B"), item("B-ONLY")]).status_code == 201
    refused = post(api_a, [item("SHARED"), ref("A-1", "C-B")])
    assert refused.status_code == 400
    assert refused.json()[0] == {} and list(refused.json()[1]) == ["customer"]

    created = post(api_a, [item("SHARED", customer={"external_id": "C-B", "name": "Do A"})])
    assert created.status_code == 201  # a new invoice of tenant A's, not an update of B's
    assert sorted(invoices(tenant_a)) == ["SHARED"]
    assert invoices(tenant_b)["SHARED"].customer.name == "Cliente C-B"
