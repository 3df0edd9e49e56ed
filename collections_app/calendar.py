"""The tenant's business calendar (DESIGN invariant 4).

By default the Brazilian national *bank* calendar: weekends, national holidays, Carnaval
Monday and Tuesday, Good Friday and Corpus Christi (the `holidays` package keeps Carnaval and
Corpus Christi only among optional days, so they are derived from Easter here), and the last
business day of the year, when banks do not serve the public and boletos due that day are paid
on the next business day without charges (CMN rule, as FEBRABAN announces each year: 31
December, or the Friday before when it falls on a weekend); plus the tenant's state holidays
and the dates the tenant adds."""

from datetime import date, timedelta
from functools import lru_cache

import holidays
from dateutil.easter import easter
from django.utils.translation import get_language, gettext

from tenants.models import Tenant, TenantHoliday


@lru_cache(maxsize=256)
def _bank_holidays(year: int, state: str) -> frozenset[date]:
    public = holidays.Brazil(years=year, subdiv=state or None, language="en_US")
    days = set(public.keys())
    e = easter(year)
    days.update({e - timedelta(days=48), e - timedelta(days=47), e - timedelta(days=2)})
    days.add(e + timedelta(days=60))
    return frozenset(days)


@lru_cache(maxsize=64)
def year_end_closing(year: int) -> date:
    """The last business day of the year on the national calendar: banks are closed to the
    public, so it is no business day either."""
    day = date(year, 12, 31)
    while day.weekday() >= 5 or day in _bank_holidays(year, ""):
        day -= timedelta(days=1)
    return day


class BusinessCalendar:
    def __init__(self, *, state: str = "", extra: set[date] | None = None, send_weekdays=None):
        self.state = state
        self.extra = frozenset(extra or ())
        self.send_weekdays = frozenset(send_weekdays if send_weekdays is not None else range(7))

    @classmethod
    def for_tenant(cls, tenant: Tenant) -> "BusinessCalendar":
        return cls.for_tenants([tenant])[tenant.pk]

    @classmethod
    def for_tenants(cls, tenants) -> dict[int, "BusinessCalendar"]:
        """One calendar per tenant, with one query for all the tenants' added dates."""
        tenants = list(tenants)
        extra: dict[int, set[date]] = {t.pk: set() for t in tenants}
        for tenant_id, day in TenantHoliday.objects.with_scope(tenant=tenants).values_list(
            "tenant_id", "date"
        ):
            extra[tenant_id].add(day)
        return {
            t.pk: cls(state=t.state, extra=extra[t.pk], send_weekdays=t.send_weekdays)
            for t in tenants
        }

    @property
    def signature(self) -> tuple:
        """Calendars with equal signatures give the same dates."""
        return (self.state, self.extra, self.send_weekdays)

    def holidays_named(self, start: date, end: date) -> list[tuple[date, str]]:
        """The national, bank and state holidays and the year-end bank closing from `start` to
        `end` (both included), with their names in the active language, in order; the
        tenant's own dates (`extra`) are not among them."""
        language = "pt_BR" if (get_language() or "").lower().startswith("pt") else "en_US"
        found: list[tuple[date, str]] = []
        for year in range(start.year, end.year + 1):
            named = dict(holidays.Brazil(years=year, subdiv=self.state or None, language=language))
            e = easter(year)
            derived = {
                e - timedelta(days=48): gettext("Carnival Monday"),
                e - timedelta(days=47): gettext("Carnival Tuesday"),
                e - timedelta(days=2): gettext("Good Friday"),
                e + timedelta(days=60): gettext("Corpus Christi"),
            }
            for day in sorted(_bank_holidays(year, self.state)):
                found.append((day, named.get(day) or derived.get(day, "")))
            closing = year_end_closing(year)
            closing_name = gettext("Last business day of the year (banks closed to the public)")
            found.append((closing, closing_name))
        return sorted((day, name) for day, name in set(found) if start <= day <= end)

    def is_business_day(self, day: date) -> bool:
        return (
            day.weekday() < 5
            and day not in self.extra
            and day not in _bank_holidays(day.year, self.state)
            and day != year_end_closing(day.year)
        )

    def next_business_day(self, day: date) -> date:
        """The day itself when it is a business day, else the next one."""
        while not self.is_business_day(day):
            day += timedelta(days=1)
        return day

    def effective_due_date(self, due_date: date) -> date:
        return self.next_business_day(due_date)

    def add_business_days(self, day: date, count: int) -> date:
        step = 1 if count >= 0 else -1
        remaining = abs(count)
        while remaining:
            day += timedelta(days=step)
            if self.is_business_day(day):
                remaining -= 1
        return day

    def next_send_day(self, day: date) -> date:
        """Messages leave on the tenant's send days that are not holidays (the year's last
        business day is no holiday: only the banks are closed)."""
        for _ in range(370):
            if (
                day.weekday() in self.send_weekdays
                and day not in self.extra
                and day not in _bank_holidays(day.year, self.state)
            ):
                return day
            day += timedelta(days=1)
        return day

    def step_date(self, effective_due: date, offset: int, business: bool) -> date | None:
        """The day a step runs for an invoice, or None when a pre-due step would land on or
        after the effective due date (it is dropped)."""
        if business:
            target = self.add_business_days(effective_due, offset)
        else:
            target = effective_due + timedelta(days=offset)
        target = self.next_send_day(target)
        if offset < 0 and target >= effective_due:
            return None
        return target
