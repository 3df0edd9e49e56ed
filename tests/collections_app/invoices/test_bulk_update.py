"""`values_update` writes each row's own values in one statement per batch, on PostgreSQL and
SQLite alike: amounts, dates, foreign keys (set and cleared), JSON lists, booleans and text
with quotes, across more than one batch, touching nothing else."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scope

from collections_app.invoices import bulk_update as bulk
from collections_app.invoices.bulk_update import values_update
from collections_app.models import Customer, Invoice, Ladder, Segment
from tests.collections_app.factories import InvoiceFactory

pytestmark = pytest.mark.django_db


def test_each_row_gets_its_own_values(tenant_a, tenant_b, monkeypatch):
    monkeypatch.setattr(bulk, "BATCH", 3)  # 7 rows: three statements
    day = date(2026, 12, 1)
    invoices = [InvoiceFactory(tenant=tenant_a, due_date=day, amount="10.00") for _ in range(7)]
    untouched = InvoiceFactory(tenant=tenant_b, due_date=day, amount="10.00")
    with scope(tenant=tenant_a):
        segment = Segment.objects.create(
            tenant=tenant_a,
            name="VIP",
            priority=1,
            rule={"kind": "tag", "value": "vip"},
            ladder=Ladder.objects.get(is_default=True),
        )
        other = invoices[0].customer
        for k, invoice in enumerate(invoices):
            invoice.amount = Decimal("1234.56") + k
            invoice.due_date = day + timedelta(days=k)
            invoice.description = f'O\'Brien "{k}"'
            invoice.customer = other
        with CaptureQueriesContext(connection) as queries:
            values_update(Invoice, invoices, ["amount", "due_date", "description", "customer"])
        assert len(queries) == 3
        for k, invoice in enumerate(
            Invoice.objects.filter(pk__in=[i.pk for i in invoices]).order_by("pk")
        ):
            assert invoice.amount == Decimal("1234.56") + k
            assert invoice.due_date == day + timedelta(days=k)
            assert invoice.description == f'O\'Brien "{k}"'
            assert invoice.customer_id == other.pk
        customers = list(Customer.objects.filter(pk__in=[i.customer_id for i in invoices[1:]]))
        for k, customer in enumerate(customers):
            customer.segment = segment if k % 2 else None
            customer.segment_manual = bool(k % 2)
            customer.preferred_channels = ["whatsapp", "email"][: k % 3]
        values_update(Customer, customers, ["segment", "segment_manual", "preferred_channels"])
        for k, customer in enumerate(customers):
            customer.refresh_from_db()
            assert customer.segment_id == (segment.pk if k % 2 else None)
            assert customer.segment_manual is bool(k % 2)
            assert customer.preferred_channels == ["whatsapp", "email"][: k % 3]
    with scope(tenant=tenant_b):
        untouched.refresh_from_db()
    assert untouched.amount == Decimal("10.00") and untouched.due_date == day


def test_nothing_to_write_runs_no_query(tenant_a):
    with CaptureQueriesContext(connection) as queries:
        values_update(Invoice, [], ["amount"])
    assert len(queries) == 0
