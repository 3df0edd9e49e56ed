"""Imported bank files and their credits."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from collections_app.models.invoices import Invoice
from collections_app.models.payments import Payment
from tenants.models import Tenant


class BankStatement(models.Model):
    """A bank file an agent imported: a CNAB 240 or 400 return file, or an OFX statement."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10)  # ofx | cnab240 | cnab400
    filename = models.CharField(max_length=200)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    credits = models.PositiveIntegerField(default=0)
    matched = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.filename


class CreditStatus(models.TextChoices):
    MATCHED = "matched", _("Matched")
    UNMATCHED = "unmatched", _("To review")
    IGNORED = "ignored", _("Ignored")


class BankCredit(models.Model):
    """One credit of a bank file: matched to an invoice (and recorded as its payment), or
    waiting for an agent in the review queue. `key` identifies it across imports, so a file
    imported twice records nothing twice."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    statement = models.ForeignKey(BankStatement, on_delete=models.CASCADE, related_name="items")
    key = models.CharField(max_length=120)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    credited_on = models.DateField()  # the day the money reached the account
    # The day the debtor paid (CNAB's data da ocorrência), recorded as the payment's date;
    # empty for credits imported before it was kept (their credit date stands in).
    paid_on = models.DateField(null=True, blank=True)
    reference = models.CharField(max_length=40, blank=True, default="")  # nosso número
    description = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(max_length=10, choices=CreditStatus.choices)
    matched_by = models.CharField(max_length=20, blank=True, default="")
    # Why the import left it for an agent (an invoice cancelled, two invoices with its nosso
    # número, the payment refused…), in the tenant's language; empty when nothing matched.
    review_reason = models.CharField(max_length=300, blank=True, default="")
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.SET_NULL)
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.SET_NULL)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["credited_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="uniq_bank_credit_key")
        ]
        indexes = [models.Index(fields=["tenant", "status"], name="bank_credit_tenant_status")]

    def __str__(self) -> str:
        return f"{self.amount} on {self.credited_on}"
