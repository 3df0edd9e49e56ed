"""Changing what the tenant's business calendar reads (its state, its own holidays): each
change and the due dates it moves are one write, whichever page or command makes it."""

from datetime import date

from django.db import transaction

from collections_app.invoices.services import invoices_due_dates_refresh
from tenants.models import Tenant, TenantHoliday

CALENDAR_FIELDS = frozenset({"state"})


def company_settings_save(*, tenant: Tenant, fields: dict) -> Tenant:
    """Save the tenant's settings given in `fields` (already validated); when one the calendar
    reads changed (the state and its holidays), the open invoices' due dates move with it in
    the same transaction."""
    with transaction.atomic():
        # Compared with the stored row: a ModelForm has already set its values on `tenant`.
        stored = Tenant.objects.select_for_update().values(*fields).get(pk=tenant.pk)
        changed = {name for name, value in fields.items() if stored[name] != value}
        for name, value in fields.items():
            setattr(tenant, name, value)
        tenant.save(update_fields=list(fields))
        if changed & CALENDAR_FIELDS:
            invoices_due_dates_refresh(tenant=tenant)
    return tenant


def tenant_holiday_add(*, tenant: Tenant, day: date, name: str) -> bool:
    """Add a holiday of the tenant's own and move the due dates it falls on. Returns False,
    changing nothing, when the day already is one."""
    with transaction.atomic():
        _holiday, created = TenantHoliday.objects.get_or_create(
            tenant=tenant, date=day, defaults={"name": name}
        )
        if created:
            invoices_due_dates_refresh(tenant=tenant)
    return created


def tenant_holiday_remove(*, tenant: Tenant, holiday: TenantHoliday) -> None:
    """Remove one of the tenant's holidays; due dates moved by it come back."""
    if holiday.tenant_id != tenant.pk:
        raise TenantHoliday.DoesNotExist
    with transaction.atomic():
        holiday.delete()
        invoices_due_dates_refresh(tenant=tenant)
