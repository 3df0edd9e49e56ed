"""Payments, promises to pay, agreements (instalment plans) and the debtor's "I already paid"."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from collections_app.models.customers import Customer, Segment
from collections_app.models.imports import stored_file_forget
from collections_app.models.invoices import Invoice
from tenants.models import Tenant


class PaymentSource(models.TextChoices):
    API = "api", _("API")
    MANUAL = "manual", _("Manual entry")
    GATEWAY = "gateway", _("Payment gateway")
    BANK_FILE = "bank_file", _("Bank file")
    IMPORT = "import", _("Import")
    # Instalments of an agreement credited to the invoices it replaced.
    AGREEMENT = "agreement", _("Agreement")


class Payment(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="payments")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    # NULL, not "": payments without an external id must not collide on the unique constraint.
    external_id = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    paid_at = models.DateTimeField()
    source = models.CharField(max_length=12, choices=PaymentSource.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Attribution: the last message sent, or the last click on one, about the invoice within
    # 7 days before the payment — and that message's step, channel and the customer's segment.
    attributed_message = models.ForeignKey(
        "messaging.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    attributed_via = models.CharField(max_length=10, blank=True, default="")  # message | click
    attributed_step = models.ForeignKey(
        "LadderStep", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    attributed_channel = models.CharField(max_length=10, blank=True, default="")
    attributed_segment = models.ForeignKey(
        Segment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["-paid_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "external_id"],
                condition=Q(external_id__isnull=False),
                name="uniq_payment_ext_id",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
        ]
        indexes = [models.Index(fields=["tenant", "paid_at"], name="payment_tenant_paid_at")]

    def __str__(self) -> str:
        return f"{self.amount} on {self.paid_at:%Y-%m-%d}"


class PromiseStatus(models.TextChoices):
    OPEN = "open", _("Open")
    KEPT = "kept", _("Kept")
    BROKEN = "broken", _("Broken")
    CANCELLED = "cancelled", _("Cancelled")


class PaymentPromise(models.Model):
    """A date the debtor committed to pay by. While open, the invoice's ladder waits (steps
    with `skip_while_promise`); if the date passes unpaid, it is broken and the ladder resumes."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="promises")
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="promises")
    promised_date = models.DateField()
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=PromiseStatus.choices, default=PromiseStatus.OPEN
    )
    source = models.CharField(max_length=20, default="agent")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "invoice"],
                condition=Q(status="open"),
                name="uniq_open_promise_per_invoice",
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "promised_date"], name="promise_tenant_open")
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} by {self.promised_date}"


class AgreementStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    COMPLETED = "completed", _("Completed")
    BROKEN = "broken", _("Broken")
    CANCELLED = "cancelled", _("Cancelled")


class Agreement(models.Model):
    """A negotiated instalment plan (acordo): its instalments are invoices of their own; the
    original invoices are suspended while it is active."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="agreements")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="agreements")
    original_invoices = models.ManyToManyField(Invoice, related_name="agreements_replacing")
    status = models.CharField(
        max_length=10, choices=AgreementStatus.choices, default=AgreementStatus.ACTIVE
    )
    total_amount = models.DecimalField(max_digits=14, decimal_places=2)
    instalment_count = models.PositiveSmallIntegerField()
    first_due_date = models.DateField(null=True, blank=True)
    grace_days = models.PositiveSmallIntegerField(default=5)
    source = models.CharField(max_length=10, default="agent")  # agent | debtor | api
    ended_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "status"], name="agreement_tenant_status")]

    def __str__(self) -> str:
        return f"Agreement {self.pk} ({self.instalment_count}x)"


class PaymentClaim(models.Model):
    """The debtor says the invoice is paid ("I already paid"), maybe with a proof: an agent
    checks it (a task) while the reminders pause."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="payment_claims")
    note = models.CharField(max_length=500, blank=True, default="")
    proof = models.FileField(upload_to="proofs/%Y/%m/", blank=True)
    proof_name = models.CharField(max_length=200, blank=True, default="")
    task = models.ForeignKey(
        "FollowUpTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "invoice"], name="claim_tenant_invoice")]

    def __str__(self) -> str:
        return f"Claim on {self.invoice_id}"


@receiver(post_delete, sender=PaymentClaim, dispatch_uid="payment_claim_proof_forget")
def _payment_claim_proof_forget(sender, instance: PaymentClaim, **kwargs) -> None:
    stored_file_forget(instance.proof)
