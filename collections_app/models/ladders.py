"""Ladders, their steps and the send ledger (Dispatch) with the messages it caused."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from collections_app.models.invoices import Invoice
from messaging.models import Message
from tenants.models import Tenant


class Ladder(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="ladders")
    name = models.CharField(max_length=100)
    is_default = models.BooleanField(default=False)
    # The template key of the thank-you sent after payment ("" = none).
    thank_you_template_key = models.SlugField(max_length=60, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="uniq_ladder_name"),
            models.UniqueConstraint(
                fields=["tenant"], condition=Q(is_default=True), name="uniq_default_ladder"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class StepKind(models.TextChoices):
    MESSAGE = "message", _("Message")
    TASK = "task", _("Task for a person")


class DayKind(models.TextChoices):
    CALENDAR = "calendar", _("Calendar days")
    BUSINESS = "business", _("Business days")


class ChannelMode(models.TextChoices):
    FALLBACK = "fallback", _("First reachable channel, in order")
    ALL = "all", _("Every listed channel")


class LadderStep(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="ladder_steps")
    ladder = models.ForeignKey(Ladder, on_delete=models.CASCADE, related_name="steps")
    # Days from the effective due date: negative before, 0 on, positive after.
    offset_days = models.IntegerField()
    day_kind = models.CharField(max_length=10, choices=DayKind.choices, default=DayKind.CALENDAR)
    kind = models.CharField(max_length=10, choices=StepKind.choices, default=StepKind.MESSAGE)
    channels = models.JSONField(default=list, blank=True)
    channel_mode = models.CharField(
        max_length=10, choices=ChannelMode.choices, default=ChannelMode.FALLBACK
    )
    template_key = models.SlugField(max_length=60, blank=True, default="")
    task_title = models.CharField(max_length=200, blank=True, default="")
    min_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    skip_while_promise = models.BooleanField(default=True)
    active = models.BooleanField(default=True)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["offset_days", "id"]
        constraints = [
            # Inactive steps keep their day (their dispatches refer to them) and may share it.
            models.UniqueConstraint(
                fields=["tenant", "ladder", "offset_days", "day_kind"],
                condition=Q(active=True),
                name="uniq_step_offset",
            )
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        sign = "+" if self.offset_days > 0 else ("-" if self.offset_days < 0 else "")
        suffix = " úteis" if self.day_kind == DayKind.BUSINESS else ""
        return f"D{sign}{abs(self.offset_days) if self.offset_days else 0}{suffix}"


class DispatchStatus(models.TextChoices):
    QUEUED = "queued", _("Messages queued")
    TASK = "task", _("Task created")
    SKIPPED = "skipped", _("Skipped")


SKIP_REASONS = {
    "superseded": _("A later step was due (catch-up sends only the latest)"),
    "promise_open": _("A promise to pay is open"),
    "disputed": _("Invoice disputed"),
    "paused": _("Ladder paused"),
    "below_min_amount": _("Amount below the step's minimum"),
    "opted_out": _("Customer opted out of the channel"),
    "no_contact": _("No contact data for the channel"),
    "invalid_contact": _("The provider refused the contact (invalid number, hard bounce)"),
    "no_template": _("No template for the channel"),
    "no_reachable_channel": _("No reachable channel"),
}


class Dispatch(models.Model):
    """The send ledger: one row per invoice × step, ever. The unique constraint is what makes a
    re-run, a concurrent run or a redelivered task unable to contact a customer twice."""

    # Indexes: the unique (invoice, step) and (tenant, evaluated_on) serve the invoice and
    # tenant lookups; single-column ones would only slow down the daily bulk writes. `tenant`
    # repeats the invoice's tenant for scoping; the database checks the invoice reference, so
    # a second check per row (the engine writes tens of thousands a day) is left out.
    tenant = models.ForeignKey(
        Tenant,
        on_delete=models.CASCADE,
        related_name="dispatches",
        db_index=False,
        db_constraint=False,
    )
    invoice = models.ForeignKey(
        Invoice, on_delete=models.CASCADE, related_name="dispatches", db_index=False
    )
    step = models.ForeignKey(LadderStep, on_delete=models.PROTECT, related_name="dispatches")
    scheduled_for = models.DateField()
    evaluated_on = models.DateField()
    status = models.CharField(max_length=10, choices=DispatchStatus.choices)
    reason = models.CharField(max_length=60, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["-scheduled_for", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "step"], name="uniq_dispatch_invoice_step")
        ]
        indexes = [
            models.Index(fields=["tenant", "evaluated_on"], name="dispatch_tenant_evaluated"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id}×{self.step_id} {self.status}"

    @property
    def reason_label(self) -> str:
        return str(SKIP_REASONS.get(self.reason, self.reason))


class InvoiceMessage(models.Model):
    """Which invoices a message is about (one, or several when a customer gets one message for
    all invoices due the same day), and the ledger row that caused it, if any."""

    # Indexes: the unique (message, invoice) and the invoice and dispatch ones; the tenant is
    # always filtered together with one of them. As on Dispatch, `tenant` repeats the
    # invoice's and is not checked a second time by the database.
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="message_links")
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="invoice_links", db_index=False
    )
    dispatch = models.ForeignKey(
        Dispatch, null=True, blank=True, on_delete=models.CASCADE, related_name="message_links"
    )

    objects = ScopedManager(tenant="tenant")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "invoice"], name="uniq_invoice_message")
        ]

    def __str__(self) -> str:
        return f"message {self.message_id} → invoice {self.invoice_id}"
