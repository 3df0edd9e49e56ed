"""The days an evaluation covers and the effective due dates whose step day falls in them.

An evaluation covers the days since the tenant's previous one, at most `MAX_CATCH_UP_DAYS`
back (DESIGN invariant 5). A step runs `offset` calendar or business days from an invoice's
effective due date, moved by the tenant's calendar (send days, holidays): for a window of days,
`due_dates` gives every effective due date whose step day falls in it. The evaluation and the
forecast both ask it."""

from datetime import date, timedelta

from collections_app.calendar import BusinessCalendar
from collections_app.models import DayKind, LadderStep
from tenants.models import Tenant

MAX_CATCH_UP_DAYS = 31
# How far a step day can drift from "effective due + offset" (send-day moves, business days).
_DRIFT = 12


def window_start(tenant: Tenant, today: date) -> date:
    """The first day an evaluation of `today` covers: the day after the previous evaluation,
    at most MAX_CATCH_UP_DAYS back; `today` for a first evaluation or a re-run."""
    last = tenant.last_evaluated_on
    if last is None or last >= today:
        return today
    return max(last + timedelta(days=1), today - timedelta(days=MAX_CATCH_UP_DAYS))


def due_dates_for_step(
    step: LadderStep, calendar: BusinessCalendar, start: date, end: date
) -> dict[date, date]:
    """effective due date → the day the step runs for it, for step days within [start, end]."""
    return due_dates(step.offset_days, step.day_kind, calendar, start, end)


def due_dates(
    offset: int, day_kind: str, calendar: BusinessCalendar, start: date, end: date
) -> dict[date, date]:
    """effective due date → the day a step of this shape (offset, day kind) runs for it, for
    step days within [start, end]."""
    business = day_kind == DayKind.BUSINESS
    spread = _DRIFT + (abs(offset) // 2 if business else 0)
    first = start - timedelta(days=offset + spread)
    last = end - timedelta(days=offset - spread)
    if business:
        first -= timedelta(days=abs(offset))
        last += timedelta(days=abs(offset))
    mapping = {}
    day = first
    while day <= last:
        runs_on = calendar.step_date(day, offset, business)
        if runs_on is not None and start <= runs_on <= end:
            mapping[day] = runs_on
        day += timedelta(days=1)
    return mapping
