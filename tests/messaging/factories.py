"""factory_boy factories for messaging: a tenant's own provider accounts and templates."""

import factory

from messaging.models import Channel, ProviderAccount, Template
from tests.tenants.factories import TenantFactory, TenantOwnedFactory

PROVIDER_CHANNEL = {
    "sendgrid": Channel.EMAIL,
    "smtp": Channel.EMAIL,
    "twilio_sms": Channel.SMS,
    "twilio_whatsapp": Channel.WHATSAPP,
}


class ProviderAccountFactory(TenantOwnedFactory):
    """A tenant's own provider account, its credentials encrypted as the product stores them:
    `ProviderAccountFactory(tenant=t, provider="twilio_sms", credentials={…}, sender="+55…")`."""

    class Meta:
        model = ProviderAccount

    tenant = factory.SubFactory(TenantFactory)
    provider = "twilio_sms"
    channel = factory.LazyAttribute(lambda o: PROVIDER_CHANNEL[o.provider])
    sender = ""
    credentials = factory.LazyFunction(
        lambda: {"account_sid": "AC" + "0" * 32, "auth_token": "token-de-teste"}
    )


class TemplateFactory(TenantOwnedFactory):
    """A template of the tenant's (the tenant already has the defaults; this adds one)."""

    class Meta:
        model = Template

    tenant = factory.SubFactory(TenantFactory)
    key = factory.Sequence(lambda n: f"modelo-{n}")
    name = factory.Sequence(lambda n: f"Modelo {n}")
    channel = Channel.SMS
    body = "Olá {{ customer_name }}, sua fatura vence em {{ due_date }}."
