from django.conf import settings

from messaging.models import ProviderAccount, ProviderKind
from messaging.providers.base import Provider, TransportError
from messaging.providers.console import ConsoleProvider
from messaging.providers.sendgrid import SendGridProvider
from messaging.providers.smtp import SMTPProvider
from messaging.providers.twilio import TwilioSMSProvider, TwilioWhatsAppProvider
from tenants.models import Tenant

PROVIDERS: dict[str, type[Provider]] = {
    ProviderKind.CONSOLE: ConsoleProvider,
    ProviderKind.SENDGRID: SendGridProvider,
    ProviderKind.SMTP: SMTPProvider,
    ProviderKind.TWILIO_SMS: TwilioSMSProvider,
    ProviderKind.TWILIO_WHATSAPP: TwilioWhatsAppProvider,
}


def provider_for(*, tenant: Tenant, channel: str) -> tuple[str, Provider]:
    """The tenant's active account for the channel, else the platform default."""
    kind, provider, _account = provider_account_for(tenant=tenant, channel=channel)
    return kind, provider


def provider_account_for(
    *, tenant: Tenant, channel: str
) -> tuple[str, Provider, ProviderAccount | None]:
    """`provider_for`, and the tenant's account it uses (None: the platform's)."""
    account = ProviderAccount.objects.filter(tenant=tenant, channel=channel, active=True).first()
    if account is not None:
        return account.provider, _provider(account.provider, channel, account), account
    kind = settings.MESSAGING_DEFAULT_PROVIDERS.get(channel, ProviderKind.CONSOLE)
    return kind, _provider(kind, channel, None), None


def provider_of_send(
    *, tenant: Tenant, channel: str, kind: str, account: ProviderAccount | None
) -> tuple[str, Provider]:
    """The provider account a message was claimed for: the tenant's `account` (active or not
    now), else the platform's account of `kind`; a message claimed before accounts were
    recorded (no `kind`) gets the channel's current one."""
    if account is not None:
        return account.provider, _provider(account.provider, channel, account)
    if not kind:
        return provider_for(tenant=tenant, channel=channel)
    return kind, _provider(kind, channel, None)


def _provider(kind: str, channel: str, account: ProviderAccount | None) -> Provider:
    provider_cls = PROVIDERS.get(kind)
    if provider_cls is None:
        raise TransportError(f"Provider {kind!r} is not available for {channel}", permanent=True)
    if account is not None:
        return provider_cls(sender=account.sender, credentials=account.credentials)
    sender, credentials = platform_account(kind=kind, channel=channel)
    return provider_cls(sender=sender, credentials=credentials)


def platform_account(*, kind: str, channel: str) -> tuple[str, dict]:
    """The platform's default sender and credentials for a provider, from the environment
    (settings), for tenants without their own account."""
    if kind == ProviderKind.SENDGRID:
        return settings.DEFAULT_FROM_EMAIL, {"api_key": settings.SENDGRID_API_KEY}
    if kind == ProviderKind.SMTP:
        return settings.DEFAULT_FROM_EMAIL, {
            "host": settings.EMAIL_HOST,
            "port": settings.EMAIL_PORT,
            "username": settings.EMAIL_HOST_USER,
            "password": settings.EMAIL_HOST_PASSWORD,
            "security": settings.EMAIL_SECURITY,
        }
    if kind in (ProviderKind.TWILIO_SMS, ProviderKind.TWILIO_WHATSAPP):
        sender = (
            settings.TWILIO_WHATSAPP_FROM
            if kind == ProviderKind.TWILIO_WHATSAPP
            else settings.TWILIO_SMS_FROM
        )
        return sender, {
            "account_sid": settings.TWILIO_ACCOUNT_SID,
            "auth_token": settings.TWILIO_AUTH_TOKEN,
        }
    return (settings.DEFAULT_FROM_EMAIL if channel == "email" else ""), {}
