"""Thin aliases kept for test modules written against the old helpers while other branches
land; new tests use the per-app factories (tests/tenants/factories.py,
tests/messaging/factories.py, tests/collections_app/factories.py), which these call."""

from tests.collections_app.factories import InvoiceFactory, customer_of
from tests.messaging.factories import ProviderAccountFactory
from tests.tenants.factories import MembershipFactory, TenantFactory

__all__ = ["customer_of", "make_invoice", "make_member", "make_provider_account", "make_tenant"]


def make_tenant(slug=None, **kwargs):
    """`TenantFactory(slug=…, …)`."""
    return TenantFactory(**({"slug": slug} if slug else {}), **kwargs)


def make_member(tenant, role=None, email=None):
    """`MembershipFactory(tenant=…, role=…, user__email=…).user`."""
    extra = {"role": role} if role else {}
    if email:
        extra["user__email"] = email
    return MembershipFactory(tenant=tenant, **extra).user


def make_invoice(tenant, *, due, issue=None, **kwargs):
    """`InvoiceFactory(tenant=…, due_date=…, issue_date=…, …)`."""
    extra = {"issue_date": issue} if issue else {}
    return InvoiceFactory(tenant=tenant, due_date=due, **extra, **kwargs)


def make_provider_account(tenant, provider, credentials, *, sender=""):
    """`ProviderAccountFactory(tenant=…, provider=…, credentials=…, sender=…)`."""
    return ProviderAccountFactory(
        tenant=tenant, provider=provider, credentials=credentials, sender=sender
    )
