import hashlib
import secrets
from datetime import time

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from tenants.pix_keys import pix_key_normalize

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person who logs in with an e-mail address; may belong to several tenants."""

    username = None
    email = models.EmailField(_("e-mail"), unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    def __str__(self) -> str:
        return self.email


class Tenant(models.Model):
    """A company that sells on credit and collects through Régua."""

    slug = models.SlugField(unique=True, max_length=60)
    name = models.CharField(_("name"), max_length=200)
    timezone = models.CharField(max_length=64, default="America/Sao_Paulo")
    locale = models.CharField(max_length=10, default="pt-br")
    currency = models.CharField(max_length=3, default="BRL")
    send_window_start = models.TimeField(default=time(8, 0))
    send_window_end = models.TimeField(default=time(20, 0))
    # Comma-separated weekday names (mon…sun) on which messages may leave.
    send_days = models.CharField(max_length=40, default="mon,tue,wed,thu,fri,sat")
    # Local time after which the daily evaluation runs.
    run_time = models.TimeField(default=time(7, 0))
    # Business calendar: national bank calendar plus this state's holidays (UF, e.g. "SP").
    state = models.CharField(max_length=2, blank=True, default="")
    one_message_per_customer = models.BooleanField(default=False)
    # Follow-up tasks: "round_robin" spreads them over agents (the least loaded first);
    # "owner" gives them all to `task_owner`.
    task_assignment = models.CharField(max_length=12, default="round_robin")
    task_owner = models.ForeignKey(
        "User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Escalation to a person, off until an admin sets it: customers owing at least this much,
    # and (if set) chronic late payers, get a task on their first overdue step.
    escalation_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    escalate_chronic_late = models.BooleanField(default=False)
    promise_max_days = models.PositiveSmallIntegerField(default=30)
    pix_key = models.CharField(max_length=77, blank=True, default="")
    merchant_name = models.CharField(max_length=25, blank=True, default="")
    merchant_city = models.CharField(max_length=15, blank=True, default="")
    # Charges on an overdue invoice (the payment page shows them apart): a one-off late fine
    # and default interest pro rata die. For consumer debts (a CPF) the law caps them at 2 %
    # and 1 % a month whatever is set here.
    late_fine_percent = models.DecimalField(max_digits=5, decimal_places=2, default=2)
    monthly_interest_percent = models.DecimalField(max_digits=5, decimal_places=2, default=1)
    # Early-payment discount: this percentage off when paid at least `early_discount_days`
    # before the due date (0 % = none).
    early_discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    early_discount_days = models.PositiveSmallIntegerField(default=0)
    # "I already paid" on the payment page pauses the invoice's reminders this many days
    # while an agent checks.
    paid_claim_pause_days = models.PositiveSmallIntegerField(default=3)
    # Self-service instalments on the payment page: up to this many monthly instalments (0 =
    # none: a request becomes a task), none smaller than the minimum amount.
    instalments_max = models.PositiveSmallIntegerField(default=6)
    instalment_min_amount = models.DecimalField(max_digits=14, decimal_places=2, default=50)
    # Days an agreement's instalment may stay unpaid after its due date before the agreement
    # is broken.
    agreement_grace_days = models.PositiveSmallIntegerField(default=5)
    brand_color = models.CharField(max_length=7, default="#0f766e")
    logo_url = models.URLField(blank=True, default="")
    payment_webhook_secret = models.CharField(max_length=64, default="", blank=True)
    last_evaluated_on = models.DateField(null=True, blank=True)
    # When that evaluation ran: invoices created after it have not been seen by the engine
    # yet, so their first evaluation starts at the ladder's current position (invariant 5).
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        # Every form that edits a tenant (the company page, the admin) keeps the Pix key in
        # the one form the BR Code carries, or refuses it saying what is wrong.
        try:
            self.pix_key = pix_key_normalize(self.pix_key)
        except ValueError as exc:
            raise ValidationError({"pix_key": str(exc)}) from exc

    @property
    def send_weekdays(self) -> set[int]:
        names = [d.strip() for d in self.send_days.split(",") if d.strip()]
        return {WEEKDAYS.index(d) for d in names}


class TenantHoliday(models.Model):
    """A non-business day the tenant adds to its calendar (local holiday, company closure)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=120)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "date"], name="uniq_tenant_holiday_date")
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    AGENT = "agent", _("Agent")
    VIEWER = "viewer", _("Viewer")


ROLE_RANK = {Role.VIEWER: 0, Role.AGENT: 1, Role.ADMIN: 2, Role.OWNER: 3}


class Membership(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.AGENT)
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="uniq_membership_tenant_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant} ({self.role})"

    def has_role(self, minimum: str) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(minimum)]


API_KEY_PREFIX = "rg"


def _hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """An integrator's key. Only its SHA-256 is stored; the key itself is shown once."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, default="default")
    prefix = models.CharField(max_length=12, unique=True)
    key_hash = models.CharField(max_length=64)
    # The key's last characters, the only part of it shown after it was created (to admins),
    # so that they can tell their keys apart; empty for keys made before it was kept.
    last4 = models.CharField(max_length=4, blank=True, default="")
    created_at = models.DateTimeField(default=now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["tenant", "created_at"], name="apikey_tenant_created")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def generate() -> tuple[str, str, str]:
        """Return (raw key, prefix, hash)."""
        prefix = secrets.token_hex(4)
        raw = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        return raw, prefix, _hash_key(raw)

    def matches(self, raw: str) -> bool:
        return secrets.compare_digest(self.key_hash, _hash_key(raw))

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def masked(self) -> str:
        """How the key is shown once created: its last four characters only."""
        return f"••••{self.last4}" if self.last4 else "••••••••"


class IdempotentRequest(models.Model):
    """A POST to the API made with an `Idempotency-Key` header, and the answer it got: the same
    key with the same request gets the same answer again instead of a second write. Each API
    key has its own keys (`api_key`: only requests made with a valid key are kept, and the
    tenant's erasure of a customer finds its answers through it); `fingerprint` a hash of the
    method, path and body. Kept 24 hours."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(null=True, blank=True)  # None: still running
    content_type = models.CharField(max_length=100, blank=True, default="")
    body = models.BinaryField(default=b"")
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="uniq_idempotency_api_key")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"
