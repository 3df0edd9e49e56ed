"""Invoices, their statuses and the tokens that name them on the payment page and in Pix."""

import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from collections_app.models.customers import Customer
from tenants.models import Tenant


def new_payment_token() -> str:
    return secrets.token_urlsafe(24)


_TXID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_pix_txid() -> str:
    """25 characters from [A-Z0-9] (the BR Code's limit), random: unique per invoice."""
    return "RG" + "".join(secrets.choice(_TXID_ALPHABET) for _ in range(23))


class InvoiceStatus(models.TextChoices):
    OPEN = "open", _("Open")
    PAID = "paid", _("Paid")
    CANCELLED = "cancelled", _("Cancelled")
    WRITTEN_OFF = "written_off", _("Written off")
    # Replaced by an active agreement: suspended, no reminders, not counted as overdue.
    IN_AGREEMENT = "in_agreement", _("In agreement")


class Invoice(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="invoices")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    external_id = models.CharField(max_length=100)
    number = models.CharField(max_length=60, blank=True, default="")
    description = models.CharField(max_length=300, blank=True, default="")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    amount_paid = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="BRL")
    issue_date = models.DateField()
    due_date = models.DateField()
    # The due date moved to the next business day of the tenant's calendar (DESIGN invariant 4);
    # offsets and metrics count from it. Kept in step by the services that write due_date.
    effective_due_date = models.DateField()
    status = models.CharField(
        max_length=12, choices=InvoiceStatus.choices, default=InvoiceStatus.OPEN
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    # The local date of full payment and the figures metrics average, fixed when paid in full.
    paid_on = models.DateField(null=True, blank=True)
    days_to_pay = models.IntegerField(null=True, blank=True)
    days_late = models.IntegerField(null=True, blank=True)
    payment_token = models.CharField(max_length=64, unique=True, default=new_payment_token)
    # The Pix transaction id in the invoice's BR Code, so a Pix notification names the invoice.
    pix_txid = models.CharField(max_length=25, default=new_pix_txid)
    token_revoked = models.BooleanField(default=False)
    boleto_line = models.CharField(max_length=60, blank=True, default="")
    # The bank's reference for the invoice's boleto ("nosso número"): a bank return file names
    # the invoice it paid by it.
    bank_reference = models.CharField(max_length=40, blank=True, default="")
    external_payment_url = models.URLField(max_length=500, blank=True, default="")
    disputed = models.BooleanField(default=False)
    # Why the debtor disputes the charge, as the agent or the API wrote it when opening the
    # dispute (collections_app/invoices/disputes.py); blank when not disputed.
    dispute_reason = models.CharField(max_length=300, blank=True, default="")
    paused_until = models.DateField(null=True, blank=True)
    agreement = models.ForeignKey(
        "Agreement", null=True, blank=True, on_delete=models.SET_NULL, related_name="instalments"
    )
    # The spreadsheet import that last wrote the invoice (its result page links to them).
    import_job = models.ForeignKey(
        "ImportJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["-due_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "external_id"], name="uniq_invoice_ext_id"),
            models.UniqueConstraint(fields=["tenant", "pix_txid"], name="uniq_invoice_pix_txid"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="invoice_amount_positive"),
        ]
        indexes = [
            models.Index(
                fields=["tenant", "status", "effective_due_date"], name="invoice_tenant_status_due"
            ),
            models.Index(fields=["tenant", "customer"], name="invoice_tenant_customer"),
            models.Index(fields=["tenant", "effective_due_date"], name="invoice_tenant_due"),
            models.Index(fields=["tenant", "paid_on"], name="invoice_tenant_paid_on"),
            models.Index(fields=["tenant", "issue_date"], name="invoice_tenant_issue"),
            models.Index(fields=["tenant", "bank_reference"], name="invoice_tenant_bank_ref"),
            models.Index(fields=["tenant", "import_job"], name="invoice_tenant_import"),
            # The queue sorted by amount, largest first.
            models.Index(
                fields=["tenant", "status", "amount"], name="invoice_tenant_status_amount"
            ),
        ]

    def __str__(self) -> str:
        return self.number or self.external_id

    @property
    def amount_due(self):
        return max(self.amount - self.amount_paid, 0)
