"""The moment a payment known only by its day is recorded at.

Bank files, the agent's manual entry and imported history give a payment's *day*, not its
time. It is recorded at noon of that day in the tenant's timezone, so the day reads the same
wherever it is read; never later than now (a payment made this morning is not recorded at
noon, and a day in the future is not recorded in the future)."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.utils import timezone


def paid_at_on(day: date, tenant) -> datetime:
    """Noon of `day` in the tenant's timezone, capped at timezone.now()."""
    paid_at = datetime.combine(day, time(12), tzinfo=ZoneInfo(tenant.timezone))
    return min(paid_at, timezone.now())
