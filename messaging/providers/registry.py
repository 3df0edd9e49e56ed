from django.conf import settings

from tenants.models import Tenant

from ..models import ProviderAccount, ProviderKind
from .base import Provider, TransportError
from .console import ConsoleProvider

PROVIDERS: dict[str, type[Provider]] = {ProviderKind.CONSOLE: ConsoleProvider}


def provider_for(*, tenant: Tenant, channel: str) -> tuple[str, Provider]:
    """The tenant's active account for the channel, else the platform default."""
    account = ProviderAccount.objects.filter(tenant=tenant, channel=channel, active=True).first()
    if account is not None:
        kind, sender, credentials = account.provider, account.sender, account.credentials
    else:
        kind = settings.MESSAGING_DEFAULT_PROVIDERS.get(channel, ProviderKind.CONSOLE)
        sender, credentials = settings.DEFAULT_FROM_EMAIL if channel == "email" else "", {}
    provider_cls = PROVIDERS.get(kind)
    if provider_cls is None:
        raise TransportError(f"Provider {kind!r} is not available for {channel}", permanent=True)
    return kind, provider_cls(sender=sender, credentials=credentials)
