"""factory_boy factories for tenants: a tenant is created through the real service, so it comes
with its owner, the default ladder and the templates, exactly as in production."""

import factory
from django_scopes import scopes_disabled

from tenants.models import Membership, Role, Tenant, User
from tenants.services import tenant_create

PASSWORD = "senha-segura-123"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.django.Password(PASSWORD)


class TenantFactory(factory.django.DjangoModelFactory):
    """`TenantFactory(slug="tenant-a", name="Escola Aurora")`: through `tenant_create`, sending
    at any hour of any day unless told otherwise (so a test's clock never falls outside)."""

    class Meta:
        model = Tenant

    slug = factory.Sequence(lambda n: f"tenant-{n}")
    name = factory.Sequence(lambda n: f"Empresa {n}")
    owner_email = factory.LazyAttribute(lambda o: f"owner-{o.slug}@example.com")
    owner_password = PASSWORD
    send_window = "00:00-23:59"
    send_days = "mon-sun"

    @classmethod
    def _create(cls, model_class, *args, **kwargs) -> Tenant:
        with scopes_disabled():
            return tenant_create(**kwargs)


class TenantOwnedFactory(factory.django.DjangoModelFactory):
    """Creates the row with the tenant scopes lifted, as a test's setup does not run inside a
    request or a task."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        with scopes_disabled():
            return super()._create(model_class, *args, **kwargs)


class MembershipFactory(factory.django.DjangoModelFactory):
    """A user of the tenant with a role: `MembershipFactory(tenant=t, role=Role.ADMIN).user`."""

    class Meta:
        model = Membership

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.AGENT
