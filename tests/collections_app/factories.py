"""factory_boy factories for the collections domain. Invoices and payments go through the same
services as the API (so customers, effective due dates and the invoice's totals are what
production would store); the configuration rows (ladders, steps, segments, tasks, webhook
endpoints) are plain rows of the tenant's."""

from datetime import timedelta
from decimal import Decimal

import factory
from django_scopes import scopes_disabled

from collections_app.invoices.services import invoices_upsert
from collections_app.models import (
    Customer,
    FollowUpTask,
    Invoice,
    Ladder,
    LadderStep,
    Payment,
    Segment,
    WebhookEndpoint,
    WebhookEvent,
)
from collections_app.payments.services import invoice_record_payment
from tenants.selectors import tenant_today
from tests.tenants.factories import TenantFactory, TenantOwnedFactory


class CustomerFactory(TenantOwnedFactory):
    class Meta:
        model = Customer

    tenant = factory.SubFactory(TenantFactory)
    external_id = factory.Sequence(lambda n: f"C-{n}")
    name = factory.Sequence(lambda n: f"Cliente {n}")
    email = factory.Sequence(lambda n: f"cliente{n}@example.com")
    phone = "+5511987654321"


class InvoiceFactory(factory.django.DjangoModelFactory):
    """`InvoiceFactory(tenant=t, due_date=…, amount="150.00")`, created with its customer by
    `invoices_upsert`, as the API creates it. `customer` is the customer as the API takes it
    inline (a dict with at least `external_id`); `issue_date` defaults to 30 days before the due
    date, `due_date` to the tenant's today."""

    class Meta:
        model = Invoice

    tenant = factory.SubFactory(TenantFactory)
    external_id = factory.Sequence(lambda n: f"INV-{n}")
    amount = Decimal("1000.00")
    due_date = factory.LazyAttribute(lambda o: tenant_today(tenant=o.tenant))
    issue_date = factory.LazyAttribute(lambda o: o.due_date - timedelta(days=30))
    customer = factory.Sequence(
        lambda n: {
            "external_id": f"C-{n}",
            "name": f"Cliente {n}",
            "email": f"cliente{n}@example.com",
            "phone": "+5511987654321",
        }
    )

    @classmethod
    def _create(cls, model_class, *args, tenant, amount, **item) -> Invoice:
        item["amount"] = Decimal(str(amount))
        with scopes_disabled():
            [(invoice, _created)] = invoices_upsert(tenant=tenant, items=[item])
        return invoice


class PaymentFactory(factory.django.DjangoModelFactory):
    """A payment recorded by `invoice_record_payment` (with its follow-ups: the invoice's amount
    paid, the thank-you, the webhooks), of the whole invoice unless `amount` says otherwise."""

    class Meta:
        model = Payment

    invoice = factory.SubFactory(InvoiceFactory)
    tenant = factory.SelfAttribute("invoice.tenant")
    amount = factory.SelfAttribute("invoice.amount")

    @classmethod
    def _create(cls, model_class, *args, **kwargs) -> Payment:
        with scopes_disabled():
            payment, _created = invoice_record_payment(**kwargs)
        return payment


class LadderFactory(TenantOwnedFactory):
    class Meta:
        model = Ladder

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Régua {n}")


class LadderStepFactory(TenantOwnedFactory):
    class Meta:
        model = LadderStep

    ladder = factory.SubFactory(LadderFactory)
    tenant = factory.SelfAttribute("ladder.tenant")
    offset_days = 3
    channels = factory.LazyFunction(lambda: ["email"])
    template_key = "overdue_3"


class SegmentFactory(TenantOwnedFactory):
    class Meta:
        model = Segment

    ladder = factory.SubFactory(LadderFactory)
    tenant = factory.SelfAttribute("ladder.tenant")
    name = factory.Sequence(lambda n: f"Segmento {n}")


class FollowUpTaskFactory(TenantOwnedFactory):
    class Meta:
        model = FollowUpTask

    invoice = factory.SubFactory(InvoiceFactory)
    tenant = factory.SelfAttribute("invoice.tenant")
    customer = factory.LazyAttribute(lambda o: customer_of(o.invoice))
    title = "Ligar para o cliente"


class WebhookEndpointFactory(TenantOwnedFactory):
    class Meta:
        model = WebhookEndpoint

    tenant = factory.SubFactory(TenantFactory)
    url = factory.Sequence(lambda n: f"https://hooks.example.com/regua/{n}")
    events = factory.LazyFunction(lambda: [WebhookEvent.PAYMENT_RECEIVED.value])


def customer_of(invoice: Invoice) -> Customer:
    """The invoice's customer, read without a tenant scope."""
    with scopes_disabled():
        return Customer.objects.get(pk=invoice.customer_id)
