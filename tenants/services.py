import re
import secrets
from dataclasses import dataclass
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from tenants.account_mail import member_welcome_send
from tenants.models import WEEKDAYS, ApiKey, Membership, Role, Tenant, User
from tenants.signals import tenant_created


class TenantConfigError(ValueError):
    """Invalid tenant configuration, with a message fit to show the operator."""


class MemberError(ValueError):
    """A change to the team that is refused, with a message fit to show the owner."""


def parse_send_window(value: str) -> tuple[time, time]:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", value.strip())
    if not match:
        raise TenantConfigError(f"Send window {value!r} must look like HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    try:
        start, end = time(h1, m1), time(h2, m2)
    except ValueError as exc:
        raise TenantConfigError(f"Send window {value!r}: {exc}") from exc
    if start >= end:
        raise TenantConfigError(f"Send window {value!r} must end after it starts")
    return start, end


def parse_send_days(value: str) -> str:
    """Accept `mon-sat`, `mon-sun` or a list `mon,wed,fri`; return the canonical list."""
    value = value.strip().lower()
    if re.fullmatch(r"[a-z]{3}-[a-z]{3}", value):
        first, last = value.split("-")
        if first not in WEEKDAYS or last not in WEEKDAYS:
            raise TenantConfigError(f"Send days {value!r}: unknown weekday")
        i, j = WEEKDAYS.index(first), WEEKDAYS.index(last)
        if i > j:
            raise TenantConfigError(f"Send days {value!r}: range must go forward from mon")
        days = list(WEEKDAYS[i : j + 1])
    else:
        days = [d.strip() for d in value.split(",") if d.strip()]
        unknown = [d for d in days if d not in WEEKDAYS]
        if unknown or not days:
            raise TenantConfigError(
                f"Send days {value!r}: use mon,tue,wed,thu,fri,sat,sun (unknown: {unknown})"
            )
    return ",".join(d for d in WEEKDAYS if d in days)


def password_problems(*, password: str, user: User) -> list[str]:
    """The password validators' (AUTH_PASSWORD_VALIDATORS) messages for `password` as `user`'s
    password (an unsaved User for a new account); empty when it may be used."""
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        return list(exc.messages)
    return []


def tenant_create(
    *,
    slug: str,
    name: str,
    owner_email: str,
    owner_password: str | None = None,
    timezone_name: str = "America/Sao_Paulo",
    send_window: str = "08:00-20:00",
    send_days: str = "mon-sat",
) -> Tenant:
    """Create a tenant, its owner membership and (through `tenant_created`) the domain defaults,
    all in one transaction. Raises TenantConfigError for bad input; writes nothing then."""
    slug = slugify(slug)
    if not slug:
        raise TenantConfigError("The slug must contain letters or digits")
    if Tenant.objects.filter(slug=slug).exists():
        raise TenantConfigError(f"A tenant with slug {slug!r} already exists")
    try:
        ZoneInfo(timezone_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TenantConfigError(f"Unknown timezone {timezone_name!r}") from exc
    start, end = parse_send_window(send_window)
    days = parse_send_days(send_days)
    if owner_password is not None:
        existing = User.objects.filter(email__iexact=owner_email).first()
        problems = password_problems(
            password=owner_password, user=existing or User(email=owner_email)
        )
        if problems:
            raise TenantConfigError("Password refused: " + " ".join(problems))
    with transaction.atomic():
        tenant = Tenant.objects.create(
            slug=slug,
            name=name,
            timezone=timezone_name,
            send_window_start=start,
            send_window_end=end,
            send_days=days,
            payment_webhook_secret=secrets.token_hex(32),
        )
        user = User.objects.filter(email__iexact=owner_email).first()
        if user is None:
            user = User.objects.create_user(email=owner_email, password=owner_password)
        elif owner_password:
            user.set_password(owner_password)
            user.save(update_fields=["password"])
        Membership.objects.create(tenant=tenant, user=user, role=Role.OWNER)
        tenant_created.send(sender=Tenant, tenant=tenant)
    return tenant


@dataclass(frozen=True)
class InviteResult:
    membership: Membership
    created: bool  # False: already in the team, nothing changed and nothing sent
    mailed: bool  # the invitation (or the notice) was accepted by the e-mail backend


def member_invite(
    *, tenant: Tenant, email: str, role: str, invited_by: Membership | None = None
) -> InviteResult:
    """Add the person with this e-mail (any case) to the tenant's team with `role` and e-mail
    them. A new person gets an account without a password and an invitation whose signed link
    (valid for PASSWORD_RESET_TIMEOUT, once) lets them choose one; an existing account keeps its
    password and is told it was added. Nobody else ever sees a password.

    Already in the team: nothing changes, nothing is sent. Raises MemberError for an unknown
    role, or when `invited_by` is not an owner and invites an owner; nothing changes then."""
    if role not in Role.values:
        raise MemberError(_("Unknown role."))
    if role == Role.OWNER and invited_by is not None and not invited_by.has_role(Role.OWNER):
        raise MemberError(_("Only an owner can invite another owner."))
    email = email.strip().lower()
    with transaction.atomic():
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=None)
        membership, created = Membership.objects.get_or_create(
            tenant=tenant, user=user, defaults={"role": role}
        )
    if not created:
        return InviteResult(membership=membership, created=False, mailed=False)
    mailed = member_welcome_send(
        membership=membership, invited_by=invited_by.user if invited_by else None
    )
    return InviteResult(membership=membership, created=True, mailed=mailed)


def member_invite_pending(*, membership: Membership) -> bool:
    """The member was invited and has not chosen a password yet."""
    return not membership.user.has_usable_password()


def member_invite_resend(
    *, tenant: Tenant, membership: Membership, invited_by: Membership | None = None
) -> bool:
    """Send a pending member a fresh invitation (the earlier links keep working until they
    expire). Raises MemberError when they already chose a password. Returns whether the e-mail
    backend accepted it."""
    if membership.tenant_id != tenant.pk:
        raise Membership.DoesNotExist
    if not member_invite_pending(membership=membership):
        raise MemberError(_("%(email)s already chose a password.") % {"email": membership.user})
    return member_welcome_send(
        membership=membership, invited_by=invited_by.user if invited_by else None
    )


def _last_owner_check(*, tenant: Tenant, membership: Membership, role: str | None) -> None:
    """Refuse to leave the tenant without an owner: `membership` becoming `role` (None: being
    removed). The owners are locked, so two owners demoting each other cannot both win."""
    if membership.tenant_id != tenant.pk:
        raise Membership.DoesNotExist
    if membership.role != Role.OWNER or role == Role.OWNER:
        return
    owners = list(
        Membership.objects.select_for_update()
        .filter(tenant=tenant, role=Role.OWNER)
        .values_list("pk", flat=True)
    )
    if owners == [membership.pk]:
        raise MemberError(_("The company needs at least one owner."))


def member_role_change(*, tenant: Tenant, membership: Membership, role: str) -> Membership:
    """Give a member of the tenant another role. Raises MemberError when this would leave the
    tenant without an owner, or for an unknown role; nothing changes then."""
    with transaction.atomic():
        _last_owner_check(tenant=tenant, membership=membership, role=role)
        if role not in Role.values:
            raise MemberError(_("Unknown role."))
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


def member_remove(*, tenant: Tenant, membership: Membership) -> None:
    """Remove a member from the tenant's team (the user stays, with their other tenants).
    Raises MemberError when they are the last owner; nothing changes then."""
    with transaction.atomic():
        _last_owner_check(tenant=tenant, membership=membership, role=None)
        membership.delete()


def api_key_create(*, tenant: Tenant, name: str = "default") -> tuple[ApiKey, str]:
    """Create a key and return it with the raw secret, which is never stored nor shown again."""
    raw, prefix, key_hash = ApiKey.generate()
    key = ApiKey.objects.create(
        tenant=tenant, name=name, prefix=prefix, key_hash=key_hash, last4=raw[-4:]
    )
    return key, raw


def api_key_revoke(*, tenant: Tenant, key: ApiKey) -> ApiKey:
    """Revoke a key of this tenant; idempotent."""
    if key.tenant_id != tenant.pk:
        raise ApiKey.DoesNotExist
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def api_key_authenticate(raw: str) -> ApiKey | None:
    parts = raw.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != "rg":
        return None
    key = ApiKey.objects.active().select_related("tenant").filter(prefix=parts[1]).first()
    if key is None or not key.matches(raw.strip()):
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key
