"""The customer's timeline (Interaction) and the follow-up tasks for people."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from collections_app.models.customers import Customer
from collections_app.models.invoices import Invoice
from collections_app.models.ladders import Dispatch
from messaging.models import Message
from tenants.models import Tenant


class InteractionKind(models.TextChoices):
    MESSAGE = "message", _("Message")
    MESSAGE_STATUS = "message_status", _("Message status")
    CLICK = "click", _("Payment page visit")
    REPLY = "reply", _("Reply")
    CALL = "call", _("Call")
    NOTE = "note", _("Note")
    PROMISE = "promise", _("Promise to pay")
    PAYMENT = "payment", _("Payment")
    TASK = "task", _("Task")
    ESCALATION = "escalation", _("Escalation")
    SEGMENT = "segment", _("Segment change")
    OPT_OUT = "opt_out", _("Opt-out")
    PAYMENT_CLAIM = "payment_claim", _("Debtor says it is paid")
    AGREEMENT = "agreement", _("Agreement")
    CONTACT_INVALID = "contact_invalid", _("Contact refused by the provider")
    SKIP = "skip", _("Step skipped")
    DISPUTE = "dispute", _("Dispute")


class Interaction(models.Model):
    """The one timeline of every contact with a customer, per invoice where it applies."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="interactions")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="interactions")
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.CASCADE, related_name="interactions"
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="interactions"
    )
    kind = models.CharField(max_length=16, choices=InteractionKind.choices)
    channel = models.CharField(max_length=10, blank=True, default="")
    summary = models.CharField(max_length=300)  # SUMMARY_MAX_LENGTH; see summary_fit
    data = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    occurred_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "occurred_at"], name="interaction_tenant_time"),
            models.Index(
                fields=["tenant", "customer", "occurred_at"], name="interaction_tenant_customer"
            ),
            models.Index(
                fields=["tenant", "invoice", "occurred_at"], name="interaction_tenant_invoice"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.summary}"


SUMMARY_MAX_LENGTH = 300


def summary_fit(text: str) -> str:
    """A timeline summary cut to the column's length (a provider's error can be long)."""
    if len(text) <= SUMMARY_MAX_LENGTH:
        return text
    return text[: SUMMARY_MAX_LENGTH - 1] + "…"


class TaskStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class FollowUpTask(models.Model):
    """Work for a person: call the customer, check a proof of payment, answer a reply."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="tasks")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tasks")
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    dispatch = models.OneToOneField(
        Dispatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="task"
    )
    title = models.CharField(max_length=200)
    # What made the task: a ladder step, an escalation rule, a debtor's reply or action.
    origin = models.CharField(max_length=20, default="step")
    notes = models.TextField(blank=True, default="")
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="followup_tasks",
    )
    due_on = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["due_on", "id"]
        indexes = [
            models.Index(fields=["tenant", "status", "due_on"], name="task_tenant_status_due"),
            models.Index(fields=["tenant", "assignee", "status"], name="task_tenant_assignee"),
        ]

    def __str__(self) -> str:
        return self.title
