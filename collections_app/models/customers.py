"""Customers and the segments that give them a ladder."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from messaging.models import Channel
from tenants.models import Tenant


class Segment(models.Model):
    """A group of customers with its own ladder. Rules are evaluated in `priority` order; the
    first match wins, else the tenant's default ladder applies."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="segments")
    name = models.CharField(max_length=100)
    priority = models.PositiveIntegerField(default=100)
    # e.g. {"kind": "amount_at_least", "value": "10000.00"} or {"kind": "tag", "value": "vip"}
    rule = models.JSONField(default=dict, blank=True)
    ladder = models.ForeignKey("Ladder", on_delete=models.PROTECT, related_name="segments")
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["priority", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="uniq_segment_name")]

    def __str__(self) -> str:
        return self.name


class Behaviour(models.TextChoices):
    """Payment-behaviour class computed from a customer's paid invoices."""

    NEW = "new", _("New")
    ON_TIME = "on_time", _("Pays on time")
    SOMETIMES_LATE = "sometimes_late", _("Sometimes late")
    CHRONICALLY_LATE = "chronically_late", _("Chronically late")


class Customer(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="customers")
    external_id = models.CharField(max_length=100)
    name = models.CharField(max_length=200)
    document = models.CharField(
        _("CPF/CNPJ"), max_length=14, blank=True, default="", help_text=_("Digits only")
    )
    email = models.EmailField(blank=True, default="")
    phone = models.CharField(max_length=20, blank=True, default="", help_text="E.164")
    whatsapp = models.CharField(max_length=20, blank=True, default="", help_text="E.164")
    preferred_channels = models.JSONField(default=list, blank=True)
    opted_out_channels = models.JSONField(default=list, blank=True)
    # Channels whose current address a provider refused for good (invalid number, hard
    # bounce): not used again until the address changes.
    invalid_channels = models.JSONField(default=list, blank=True)
    tags = models.JSONField(default=list, blank=True)
    segment = models.ForeignKey(
        Segment, null=True, blank=True, on_delete=models.SET_NULL, related_name="customers"
    )
    # Set by an agent: the segment stays as chosen; rules do not move the customer.
    segment_manual = models.BooleanField(default=False)
    # Why the customer is in its segment (the matching rule), shown to the team.
    segment_reason = models.CharField(max_length=200, blank=True, default="")
    behaviour = models.CharField(
        max_length=20, choices=Behaviour.choices, default=Behaviour.NEW, db_index=False
    )
    paused_until = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "external_id"], name="uniq_customer_ext_id")
        ]
        indexes = [models.Index(fields=["tenant", "name"], name="customer_tenant_name")]

    def __str__(self) -> str:
        return self.name

    def address_for(self, channel: str) -> str:
        """The customer's address on a channel, or "" when they cannot be reached there."""
        if channel in (self.opted_out_channels or []) or channel in (self.invalid_channels or []):
            return ""
        return contact_addresses(email=self.email, phone=self.phone, whatsapp=self.whatsapp).get(
            channel, ""
        )


def contact_addresses(*, email: str, phone: str, whatsapp: str) -> dict[str, str]:
    """Where a customer can be reached on each channel, before opt-outs: WhatsApp falls back to
    the phone number."""
    return {Channel.EMAIL: email, Channel.SMS: phone, Channel.WHATSAPP: whatsapp or phone}
