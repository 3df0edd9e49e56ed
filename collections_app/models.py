import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from messaging.models import Channel, Message
from tenants.models import Tenant


def new_payment_token() -> str:
    return secrets.token_urlsafe(24)


_TXID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_pix_txid() -> str:
    """25 characters from [A-Z0-9] (the BR Code's limit), random: unique per invoice."""
    return "RG" + "".join(secrets.choice(_TXID_ALPHABET) for _ in range(23))


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
    summary = models.CharField(max_length=300)
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


class DailyStat(models.Model):
    """Rollup of a tenant's invoices per segment and day, so the dashboard's metrics read a few
    hundred rows instead of every invoice. One row holds three views of the same day: the
    invoices due that day (by effective due date), those paid in full that day, and those
    issued that day. Cancelled and written-off invoices are left out, as in the metrics.

    Rows are recomputed — never incremented — for the days a write touched, inside the
    writer's transaction and under a per-tenant lock (`collections_app.stats.rollups`), so they
    cannot drift; `manage.py rebuild_stats` recomputes everything. `segment_id` is the customer's
    segment (0: none)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    segment_id = models.IntegerField(default=0)
    day = models.DateField()
    # Invoices due on `day`.
    due_n = models.IntegerField(default=0)
    due_amount = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    on_time_n = models.IntegerField(default=0)  # paid in full by the due date
    on_time_amount = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    late_n = models.IntegerField(default=0)  # the others (late once `day` has passed)
    late_amount = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    late_recovered = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    late_paid_n = models.IntegerField(default=0)
    open_n = models.IntegerField(default=0)
    open_remaining = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    # Invoices paid in full on `day`.
    paid_n = models.IntegerField(default=0)
    paid_days_to_pay = models.BigIntegerField(default=0)
    paid_days_late = models.BigIntegerField(default=0)
    # Invoices issued on `day`.
    issued_amount = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "segment_id", "day"], name="uniq_daily_stat")
        ]
        indexes = [models.Index(fields=["tenant", "day"], name="daily_stat_tenant_day")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.segment_id} {self.day}"


class FunnelStat(models.Model):
    """The funnel per step, channel and segment, by the day the reminders were sent (the
    tenant's date): how many were sent, delivered and clicked, and the payments attributed
    to them with the amount. Counters move with each first event — a message reaching
    `sent`, its first delivery, its first click, a payment attributed to it — which the
    status transitions make exactly-once; `manage.py rebuild_stats` recomputes them from the
    messages, clicks and payments. `step_id` and `segment_id` are 0 when there is none."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    step_id = models.IntegerField(default=0)
    channel = models.CharField(max_length=10)
    segment_id = models.IntegerField(default=0)
    sent = models.IntegerField(default=0)
    delivered = models.IntegerField(default=0)
    clicked = models.IntegerField(default=0)
    paid = models.IntegerField(default=0)
    recovered = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "day", "step_id", "channel", "segment_id"],
                name="uniq_funnel_stat",
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.day} {self.step_id} {self.channel}"


class WebhookEvent(models.TextChoices):
    INVOICE_OVERDUE = "invoice.overdue", _("Invoice overdue")
    MESSAGE_DELIVERED = "message.delivered", _("Message delivered")
    MESSAGE_FAILED = "message.failed", _("Message failed")
    PAYMENT_RECEIVED = "payment.received", _("Payment received")
    PROMISE_CREATED = "promise.created", _("Promise to pay created")
    TASK_CREATED = "task.created", _("Task created")


def new_webhook_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


class WebhookEndpoint(models.Model):
    """A URL of the tenant's that receives the events it subscribed to, signed with its
    secret (outbound webhooks)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=64, default=new_webhook_secret)
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One event sent to one endpoint: retried with backoff until the endpoint answers 2xx
    or the attempts run out. `dedupe_key` names the event's subject (e.g. the invoice that
    went overdue), so the same event is never delivered twice to an endpoint."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    dedupe_key = models.CharField(max_length=120)
    payload = models.JSONField(default=dict)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event", "dedupe_key"], name="uniq_webhook_delivery"
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "created_at"], name="webhook_delivery_tenant"),
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.status})"


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


class ImportStatus(models.TextChoices):
    DRAFT = "draft", _("Choosing the columns")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Imported")
    REFUSED = "refused", _("Nothing imported: rows with errors")
    FAILED = "failed", _("Failed")


class ImportJob(models.Model):
    """A spreadsheet of invoices uploaded in the dashboard: its columns are mapped (the mapping
    is remembered for the next file), then a Celery job checks every row and writes them —
    all or nothing, or explicitly only the valid ones. The file is kept until its rows are
    written, so a refused import can be run again with "import the valid rows"."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    filename = models.CharField(max_length=200)
    content = models.BinaryField(default=bytes, editable=False)
    headers = models.JSONField(default=list)
    sample = models.JSONField(default=list)  # the first rows, for the mapping preview
    rows = models.PositiveIntegerField(default=0)
    mapping = models.JSONField(default=dict)  # Régua field → column index
    # How the date columns are read: "auto" (each as its values show) or dmy/mdy/ymd.
    date_format = models.CharField(max_length=4, default="auto")
    # Per column, what its values show (`column_formats.column_profile`), read at upload.
    column_formats = models.JSONField(default=list)
    valid_only = models.BooleanField(default=False)
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.DRAFT
    )
    imported = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    rows_with_errors = models.PositiveIntegerField(default=0)
    payments = models.PositiveIntegerField(default=0)  # recorded from paid dates
    errors_report = models.TextField(blank=True, default="")
    first_errors = models.JSONField(default=list)  # shown on the page; the report has all
    failure = models.TextField(blank=True, default="")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.filename

    @property
    def finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.REFUSED, ImportStatus.FAILED)

    @property
    def in_progress(self) -> bool:
        return self.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)

    @property
    def valid_rows(self) -> int:
        return self.rows - self.rows_with_errors
