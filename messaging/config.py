"""The rules of a tenant's messaging configuration, shared by the API and the settings pages.

Which providers can carry which channel and need which credentials, the check an account must
pass before it is saved, the conflicts the unique constraints report, and the test send."""

from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from messaging.models import ProviderAccount, ProviderKind, new_message_ref
from messaging.outbound import UnsafeAddress, outbound_check, smtp_port_check
from messaging.providers import OutgoingMessage, Provider, TransportError, provider_for
from messaging.providers.registry import PROVIDERS
from messaging.providers.smtp import smtp_address
from tenants.models import Tenant

LOCALES = [("pt-br", gettext_lazy("Portuguese (Brazil)")), ("en", gettext_lazy("English"))]

TEMPLATE_CONFLICT = gettext_lazy("A template with this key, channel and locale already exists.")
PROVIDER_CONFLICT = gettext_lazy("The channel already has an active account.")

# What each provider can carry and the credentials it needs.
PROVIDER_CHANNELS = {
    ProviderKind.CONSOLE: {"email", "sms", "whatsapp"},
    ProviderKind.SENDGRID: {"email"},
    ProviderKind.SMTP: {"email"},
    ProviderKind.TWILIO_SMS: {"sms"},
    ProviderKind.TWILIO_WHATSAPP: {"whatsapp"},
}
REQUIRED_CREDENTIALS = {
    ProviderKind.SENDGRID: ["api_key"],
    ProviderKind.SMTP: ["host"],
    ProviderKind.TWILIO_SMS: ["account_sid", "auth_token"],
    ProviderKind.TWILIO_WHATSAPP: ["account_sid", "auth_token"],
}


@dataclass(frozen=True)
class CredentialField:
    """One credential a provider reads (see each adapter's docstring). `secret` ones are typed
    into password inputs that never show a value back."""

    name: str
    label: str
    secret: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    number_range: tuple[int, int] | None = None  # a whole number within these bounds

    def problem(self, value) -> str | None:
        """What is wrong with a value given for this credential, if anything."""
        if self.choices and value not in {key for key, _label in self.choices}:
            options = ", ".join(key for key, _label in self.choices)
            return _("%(field)s: use one of %(options)s.") % {
                "field": self.label,
                "options": options,
            }
        if self.number_range:
            low, high = self.number_range
            text = str(value).strip()
            if not text.isdigit() or not low <= int(text) <= high:
                return _("%(field)s: use a whole number from %(low)s to %(high)s.") % {
                    "field": self.label,
                    "low": low,
                    "high": high,
                }
        return None


_TWILIO_FIELDS = (
    CredentialField("account_sid", gettext_lazy("Account SID")),
    CredentialField("auth_token", gettext_lazy("Auth token"), secret=True),
)
CREDENTIAL_FIELDS: dict[str, tuple[CredentialField, ...]] = {
    ProviderKind.CONSOLE: (),
    ProviderKind.SENDGRID: (CredentialField("api_key", gettext_lazy("API key"), secret=True),),
    ProviderKind.SMTP: (
        CredentialField("host", gettext_lazy("Host")),
        CredentialField("port", gettext_lazy("Port"), number_range=(1, 65535)),
        CredentialField("username", gettext_lazy("User name")),
        CredentialField("password", gettext_lazy("Password"), secret=True),
        CredentialField(
            "security",
            gettext_lazy("Security"),
            choices=(("starttls", "STARTTLS"), ("ssl", "SSL/TLS"), ("none", gettext_lazy("None"))),
        ),
    ),
    ProviderKind.TWILIO_SMS: _TWILIO_FIELDS,
    ProviderKind.TWILIO_WHATSAPP: _TWILIO_FIELDS,
}


def providers_for_channel(channel: str) -> list[str]:
    """The providers that can carry `channel`, in ProviderKind's order."""
    return [kind for kind in ProviderKind.values if channel in PROVIDER_CHANNELS.get(kind, ())]


def _server(provider: str, credentials: dict) -> tuple | None:
    """The server an account's secrets are sent to (SMTP's host, port and security), or None
    for a provider whose server is fixed."""
    if provider != ProviderKind.SMTP:
        return None
    try:
        host, port, security = smtp_address(credentials)
    except (TypeError, ValueError):
        return (credentials.get("host"), credentials.get("port"), credentials.get("security"))
    return host.lower(), port, security


def credentials_kept(*, provider: str, stored: dict, typed: dict) -> dict:
    """The stored credentials an edit keeps where a field is left blank: all of them, except
    the secrets when the typed values point the account at another server (another host,
    port or security): a stored secret is never sent to a server it was not typed for."""
    given = {name: value for name, value in typed.items() if value not in (None, "")}
    if _server(provider, {**stored, **given}) == _server(provider, stored):
        return dict(stored)
    secrets = {field.name for field in CREDENTIAL_FIELDS.get(provider, ()) if field.secret}
    return {name: value for name, value in stored.items() if name not in secrets}


def provider_account_errors(
    *, channel: str, provider: str, credentials: dict, stored: dict | None = None
) -> dict:
    """What keeps an account from working, per field (`provider`, `credentials`): a provider
    that cannot carry the channel, a required credential left empty or malformed, a server
    the outbound policy refuses (SMTP: a public host, an SMTP port), or, against the `stored`
    credentials of the account being changed, a secret not typed again although the server
    changed. Empty if it can work."""
    if channel not in PROVIDER_CHANNELS.get(provider, set()):
        return {
            "provider": [
                _("%(provider)s cannot send %(channel)s.")
                % {"provider": provider, "channel": channel}
            ]
        }
    missing = [k for k in REQUIRED_CREDENTIALS.get(provider, []) if not credentials.get(k)]
    if missing:
        return {"credentials": [_("Missing: %(names)s") % {"names": ", ".join(missing)}]}
    problems = [
        problem
        for field in CREDENTIAL_FIELDS.get(provider, ())
        if credentials.get(field.name) not in (None, "")
        and (problem := field.problem(credentials[field.name]))
    ]
    if not problems and provider == ProviderKind.SMTP:
        host, port, _security = smtp_address(credentials)
        try:
            smtp_port_check(port)
            outbound_check(host, port)
        except UnsafeAddress as exc:
            problems.append(str(exc))
    if not problems and stored and _server(provider, credentials) != _server(provider, stored):
        problems = [
            _("%(field)s: type it again; the stored one is not sent to a new server.")
            % {"field": field.label}
            for field in CREDENTIAL_FIELDS.get(provider, ())
            if field.secret and stored.get(field.name) and not credentials.get(field.name)
        ]
    return {"credentials": problems} if problems else {}


@dataclass(frozen=True)
class TestSendOutcome:
    ok: bool
    provider: str = ""
    provider_message_id: str = ""
    error: str = ""


def provider_test_send(
    *, tenant: Tenant, channel: str, recipient: str, account: ProviderAccount | None = None
) -> TestSendOutcome:
    """Send a test message now, whatever the send window, through `account` (active or not)
    or, without one, the account the channel would use (the tenant's, else the platform's).
    A provider's refusal is returned as the outcome's `error`, never raised. Nothing is
    recorded: a test is not a message of the tenant's."""
    text = _("Test message from Régua for %(tenant)s.") % {"tenant": tenant.name}
    try:
        if account is None:
            kind, provider = provider_for(tenant=tenant, channel=channel)
        else:
            kind, provider = account.provider, _account_provider(account)
        result = provider.send(
            OutgoingMessage(
                ref=new_message_ref(),
                channel=channel,
                recipient=recipient,
                subject=text,
                body=text,
                sender=provider.sender,
                session_open=True,  # a test goes to the sender's own phone
            )
        )
    except TransportError as exc:
        return TestSendOutcome(ok=False, error=str(exc))
    return TestSendOutcome(ok=True, provider=kind, provider_message_id=result.provider_message_id)


def _account_provider(account: ProviderAccount) -> Provider:
    provider_cls = PROVIDERS.get(account.provider)
    if provider_cls is None:
        raise TransportError(f"Provider {account.provider!r} is not available", permanent=True)
    return provider_cls(sender=account.sender, credentials=account.credentials)
