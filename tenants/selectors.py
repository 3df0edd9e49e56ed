from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from tenants.models import Membership, Tenant, User


def tenant_local_now(*, tenant: Tenant) -> datetime:
    return timezone.now().astimezone(ZoneInfo(tenant.timezone))


def tenant_today(*, tenant: Tenant) -> date:
    return tenant_local_now(tenant=tenant).date()


def user_memberships(*, user: User):
    return Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__name")


def tenant_next_send_time(*, tenant: Tenant, now: datetime | None = None) -> datetime | None:
    """None when a message may leave now; else the next moment the send window opens
    (on a send day, in the tenant's timezone)."""
    local = (now or timezone.now()).astimezone(ZoneInfo(tenant.timezone))
    days = tenant.send_weekdays
    start, end = tenant.send_window_start, tenant.send_window_end
    if local.weekday() in days and start <= local.time() < end:
        return None
    for ahead in range(0, 8):
        day = local.date() + timedelta(days=ahead)
        if day.weekday() not in days:
            continue
        opening = datetime.combine(day, start, tzinfo=local.tzinfo)
        if opening > local:
            return opening
    return None
