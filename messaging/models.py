import base64
import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from messaging import crypto
from tenants.models import Tenant


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    WHATSAPP = "whatsapp", _("WhatsApp")


class ProviderKind(models.TextChoices):
    CONSOLE = "console", _("Console / outbox (nothing leaves the machine)")
    SENDGRID = "sendgrid", "SendGrid"
    SMTP = "smtp", "SMTP"
    TWILIO_SMS = "twilio_sms", "Twilio SMS"
    TWILIO_WHATSAPP = "twilio_whatsapp", "Twilio WhatsApp"


class Template(models.Model):
    """A tenant-authored message text, rendered at send time in a Jinja2 sandbox.

    Templates of one `key` (e.g. "due_today") form a family, one per channel and locale; a
    ladder step names the key and the engine picks the channel's version."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="templates")
    key = models.SlugField(max_length=60)
    name = models.CharField(max_length=120)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    locale = models.CharField(max_length=10, default="pt-br")
    subject = models.CharField(max_length=300, blank=True, default="")
    body = models.TextField()
    # WhatsApp through Twilio: the approved Content template that starts a conversation, and
    # the variables filling its placeholders {{1}}, {{2}}, … in order (names from the
    # registry). `body` stays the text shown in Régua and sent inside a session.
    content_sid = models.CharField(max_length=64, blank=True, default="")
    content_variables = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["key", "channel", "locale"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "key", "channel", "locale"], name="uniq_template_key_channel"
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} [{self.channel}/{self.locale}]"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    READ = "read", _("Read")
    FAILED = "failed", _("Failed")
    UNDELIVERED = "undelivered", _("Undelivered")
    CANCELLED = "cancelled", _("Cancelled")
    # The provider may or may not have the message (a timeout or reset after the request was
    # written): never resent blindly; reconciliation asks the provider, or a person decides.
    UNKNOWN = "unknown", _("Outcome unknown")


class MessagePurpose(models.TextChoices):
    REMINDER = "reminder", _("Reminder")
    THANK_YOU = "thank_you", _("Thank-you")
    MANUAL = "manual", _("Manual")


def new_message_ref() -> str:
    return secrets.token_urlsafe(12)


def new_message_refs(count: int) -> list[str]:
    """`count` refs like `new_message_ref`'s, from one read of the system's random source."""
    raw = base64.urlsafe_b64encode(secrets.token_bytes(12 * count)).decode()
    return [raw[i : i + 16] for i in range(0, 16 * count, 16)]


class Message(models.Model):
    """One message on one channel to one recipient. Its status is the send's safety: a worker
    sends only after moving it queued→sending with a conditional UPDATE that one worker wins."""

    # Every lookup by tenant goes through one of the composite indexes below.
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    provider = models.CharField(max_length=20, choices=ProviderKind.choices, blank=True)
    recipient = models.CharField(max_length=254)
    template = models.ForeignKey(Template, null=True, blank=True, on_delete=models.SET_NULL)
    purpose = models.CharField(
        max_length=10, choices=MessagePurpose.choices, default=MessagePurpose.REMINDER
    )
    ref = models.CharField(max_length=24, default=new_message_ref)
    subject = models.CharField(max_length=300, blank=True, default="")
    body = models.TextField(blank=True, default="")
    status = models.CharField(
        max_length=12, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    provider_message_id = models.CharField(max_length=120, blank=True, default="")
    # The tenant's own account the message was claimed for (null: the platform's account of
    # `provider`): reconciliation asks that account, not the channel's current one.
    provider_account = models.ForeignKey(
        "ProviderAccount", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Which credentials the send used (`Provider.account_key`): a lookup through any other
    # account (the tenant's was deleted since) cannot say the message is absent.
    provider_account_key = models.CharField(max_length=64, blank=True, default="")
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    # Set when reconciliation queued the message again because the provider confirmed it never
    # received it: that happens once; a second such send is left to a person.
    resent = models.BooleanField(default=False)
    # When the domain was told a person must decide (an outcome no provider lookup settles).
    escalated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # When a queued message is next due to be tried: a send window that opens later, or a
    # retry's backoff. Null: as soon as possible. Lost tasks are found by it (upkeep).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A transient provider error's retry is not claimed before this (the backoff, never shorter
    # than the provider's Retry-After), whichever task (a redelivered or duplicate one) asks.
    retry_not_before = models.DateTimeField(null=True, blank=True)
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["-created_at", "-id"]
        # A unique constraint rather than `unique=True` on `ref`: lookups are exact, so the
        # extra LIKE index PostgreSQL would get is not needed. Provider ids are looked up only
        # once the provider has given one.
        constraints = [models.UniqueConstraint(fields=["ref"], name="uniq_message_ref")]
        indexes = [
            models.Index(fields=["tenant", "status", "created_at"], name="message_tenant_status"),
            models.Index(fields=["tenant", "created_at"], name="message_tenant_created"),
            models.Index(
                fields=["tenant", "provider_message_id"],
                name="message_tenant_provider_id",
                condition=~models.Q(provider_message_id=""),
            ),
            # Monitoring's counts across tenants (`messaging.attention.message_state_counts`):
            # only the messages in motion, of unknown outcome or failed, never the sent ones.
            models.Index(
                fields=["status", "failed_at"],
                name="message_monitoring",
                condition=models.Q(
                    status__in=["queued", "sending", "unknown", "failed", "undelivered"]
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.recipient} ({self.status})"


class InboundMessage(models.Model):
    """A message a customer sent to one of the tenant's numbers (SMS or WhatsApp), as the
    provider delivered it. The provider's id is unique per tenant, so a redelivered webhook is
    recorded once; WhatsApp's 24-hour session window is read from here."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="inbound_messages")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    sender = models.CharField(max_length=254)
    body = models.TextField(blank=True, default="")
    provider = models.CharField(max_length=20, choices=ProviderKind.choices)
    provider_message_id = models.CharField(max_length=120)
    received_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "provider_message_id"], name="uniq_inbound_provider_id"
            )
        ]
        indexes = [
            models.Index(
                fields=["tenant", "channel", "sender", "received_at"], name="inbound_sender_time"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} from {self.sender}"


class ProviderAccount(models.Model):
    """A tenant's own account at a provider. Credentials are encrypted at rest."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="provider_accounts")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    provider = models.CharField(max_length=20, choices=ProviderKind.choices)
    sender = models.CharField(
        max_length=254, blank=True, default="", help_text=_("From address or number")
    )
    credentials_encrypted = models.TextField(blank=True, default="")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "channel"],
                condition=models.Q(active=True),
                name="uniq_active_provider_per_channel",
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}:{self.channel}:{self.provider}"

    @property
    def credentials(self) -> dict:
        return crypto.decrypt_json(self.credentials_encrypted)

    @credentials.setter
    def credentials(self, value: dict) -> None:
        self.credentials_encrypted = crypto.encrypt_json(value)

    def masked_credentials(self) -> dict:
        """Each stored credential as its last four characters (`crypto.mask`): for admins and
        owners only (the pages ask `secrets_visible`), and for the API."""
        return {k: crypto.mask(v) for k, v in self.credentials.items()}
