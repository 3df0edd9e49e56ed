"""factory_boy factories. Tenants are created through the real service, so they come with the
default ladder and templates, exactly as in production."""

import itertools
from datetime import date, timedelta
from decimal import Decimal

import factory
from django_scopes import scope, scopes_disabled

from collections_app.invoices.services import invoices_upsert
from collections_app.models import Customer, Invoice
from tenants.models import Membership, Role, Tenant, User
from tenants.services import tenant_create

_seq = itertools.count(1)


def make_tenant(slug: str | None = None, **kwargs) -> Tenant:
    n = next(_seq)
    slug = slug or f"tenant-{n}"
    kwargs.setdefault("send_window", "00:00-23:59")
    kwargs.setdefault("send_days", "mon-sun")
    with scopes_disabled():
        return tenant_create(
            slug=slug,
            name=kwargs.pop("name", f"Empresa {n}"),
            owner_email=kwargs.pop("owner_email", f"owner-{slug}@example.com"),
            owner_password=kwargs.pop("owner_password", "senha-segura-123"),
            **kwargs,
        )


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.django.Password("senha-segura-123")


def make_member(tenant: Tenant, role: str = Role.AGENT, email: str | None = None) -> User:
    user = UserFactory(**({"email": email} if email else {}))
    Membership.objects.create(tenant=tenant, user=user, role=role)
    return user


def make_invoice(
    tenant: Tenant,
    *,
    external_id: str | None = None,
    due: date,
    amount: Decimal | str = "1000.00",
    customer: dict | None = None,
    issue: date | None = None,
) -> Invoice:
    """Create an invoice (and its customer) through the same service as the API."""
    n = next(_seq)
    customer = customer or {
        "external_id": f"C-{n}",
        "name": f"Cliente {n}",
        "email": f"cliente{n}@example.com",
        "phone": "+5511987654321",
    }
    with scopes_disabled():
        [(invoice, _created)] = invoices_upsert(
            tenant=tenant,
            items=[
                {
                    "external_id": external_id or f"INV-{n}",
                    "amount": Decimal(str(amount)),
                    "issue_date": issue or due - timedelta(days=30),
                    "due_date": due,
                    "customer": customer,
                }
            ],
        )
    return invoice


def customer_of(invoice: Invoice) -> Customer:
    with scopes_disabled():
        return Customer.objects.get(pk=invoice.customer_id)


PROVIDER_CHANNEL = {
    "sendgrid": "email",
    "smtp": "email",
    "twilio_sms": "sms",
    "twilio_whatsapp": "whatsapp",
}


def make_provider_account(tenant: Tenant, provider: str, credentials: dict, *, sender: str = ""):
    """A tenant's own provider account, its credentials encrypted as the product stores them."""
    from messaging.models import ProviderAccount

    with scope(tenant=tenant):
        account = ProviderAccount(
            tenant=tenant, channel=PROVIDER_CHANNEL[provider], provider=provider, sender=sender
        )
        account.credentials = credentials
        account.save()
    return account
