"""The national bank calendar against FEBRABAN's published lists for 2026–2030, written out
as literal dates (not derived from Easter here, so a wrong rule in the code cannot agree with
itself), and what it does to an invoice's effective due date."""

import json
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django_scopes import scope, scopes_disabled

from collections_app.calendar import BusinessCalendar
from collections_app.models import DailyStat, Invoice
from collections_app.payments.services import invoice_record_payment
from tests.collections_app.factories import InvoiceFactory
from tests.tenants.test_settings_pages import company_form

pytestmark = pytest.mark.django_db

# FEBRABAN's national days without banking for the public: Confraternização Universal,
# Carnaval Monday and Tuesday, Sexta-feira da Paixão, Tiradentes, Dia do Trabalho, Corpus
# Christi, Independência, Nossa Senhora Aparecida, Finados, Proclamação da República, Dia
# Nacional de Zumbi e da Consciência Negra (national since 2024), Natal — and the last
# business day of the year (CMN: no service to the public), 31 December or, when that falls
# on a weekend, the Friday before (as in 2022 and 2023: 30 and 29 December).
FEBRABAN = {
    2026: [
        "2026-01-01", "2026-02-16", "2026-02-17", "2026-04-03", "2026-04-21", "2026-05-01",
        "2026-06-04", "2026-09-07", "2026-10-12", "2026-11-02", "2026-11-15", "2026-11-20",
        "2026-12-25", "2026-12-31",
    ],
    2027: [
        "2027-01-01", "2027-02-08", "2027-02-09", "2027-03-26", "2027-04-21", "2027-05-01",
        "2027-05-27", "2027-09-07", "2027-10-12", "2027-11-02", "2027-11-15", "2027-11-20",
        "2027-12-25", "2027-12-31",
    ],
    2028: [
        "2028-01-01", "2028-02-28", "2028-02-29", "2028-04-14", "2028-04-21", "2028-05-01",
        "2028-06-15", "2028-09-07", "2028-10-12", "2028-11-02", "2028-11-15", "2028-11-20",
        "2028-12-25", "2028-12-29",  # 31 December 2028 is a Sunday
    ],
    2029: [
        "2029-01-01", "2029-02-12", "2029-02-13", "2029-03-30", "2029-04-21", "2029-05-01",
        "2029-05-31", "2029-09-07", "2029-10-12", "2029-11-02", "2029-11-15", "2029-11-20",
        "2029-12-25", "2029-12-31",
    ],
    2030: [
        "2030-01-01", "2030-03-04", "2030-03-05", "2030-04-19", "2030-04-21", "2030-05-01",
        "2030-06-20", "2030-09-07", "2030-10-12", "2030-11-02", "2030-11-15", "2030-11-20",
        "2030-12-25", "2030-12-31",
    ],
}  # fmt: skip


@pytest.mark.parametrize("year", sorted(FEBRABAN))
def test_the_weekdays_without_banking_are_febrabans_list(year):
    calendar = BusinessCalendar()
    published = {date.fromisoformat(d) for d in FEBRABAN[year]}
    day, closed = date(year, 1, 1), set()
    while day.year == year:
        if day.weekday() < 5 and not calendar.is_business_day(day):
            closed.add(day)
        day += timedelta(days=1)
    assert closed == {d for d in published if d.weekday() < 5}


def test_days_banks_open_late_or_close_early_are_business_days():
    calendar = BusinessCalendar(state="SP")
    assert calendar.is_business_day(date(2026, 2, 18))  # Ash Wednesday: open from noon
    assert calendar.is_business_day(date(2026, 12, 24))  # Christmas Eve: short hours
    assert calendar.is_business_day(date(2026, 12, 30))
    assert not calendar.is_business_day(date(2026, 12, 31))


def test_messages_may_still_leave_on_the_last_day_of_the_year():
    """Only the banks close: it is no holiday for the tenant's reminders."""
    calendar = BusinessCalendar()
    assert calendar.next_send_day(date(2026, 12, 31)) == date(2026, 12, 31)


@pytest.mark.parametrize(
    ("due", "effective"),
    [
        (date(2026, 12, 31), date(2027, 1, 4)),  # then 1 January and a weekend
        (date(2027, 12, 31), date(2028, 1, 3)),
        (date(2028, 12, 29), date(2029, 1, 2)),  # the year's last business day, a Friday
        (date(2029, 12, 31), date(2030, 1, 2)),
        (date(2026, 12, 30), date(2026, 12, 30)),
    ],
)
def test_an_invoice_due_on_the_years_last_business_day_is_due_the_next_one(
    tenant_a, due, effective
):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=due, issue_date=date(2026, 11, 1))
    assert invoice.due_date == due
    invoice.refresh_from_db()
    assert invoice.effective_due_date == effective


def test_the_api_shows_the_effective_due_date_to_its_own_tenant_only(api_a, api_b):
    body = {
        "external_id": "INV-1231",
        "amount": "100.00",
        "issue_date": "2026-11-01",
        "due_date": "2026-12-31",
        "customer": {"external_id": "C-1", "name": "Maria"},
    }
    response = api_a.post("/api/v1/invoices/", json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["effective_due_date"] == "2027-01-04"
    assert api_b.get(f"/api/v1/invoices/{response.json()['id']}/").status_code == 404


def test_a_holiday_added_or_removed_moves_open_invoices_and_the_dashboard_follows(
    tenant_a, tenant_b, owner, login
):
    """Monday 07/12/2026 becomes a local holiday: the open invoice due that day is due on
    Tuesday, the paid one keeps its history, and the day's rollup moves with it."""

    monday, tuesday = date(2026, 12, 7), date(2026, 12, 8)
    open_one = InvoiceFactory(
        tenant=tenant_a, due_date=monday, amount="300.00", issue_date=date(2026, 11, 1)
    )
    paid = InvoiceFactory(
        tenant=tenant_a, due_date=monday, amount="50.00", issue_date=date(2026, 11, 1)
    )
    other_tenant = InvoiceFactory(tenant=tenant_b, due_date=monday, issue_date=date(2026, 11, 1))
    with scope(tenant=tenant_a):
        invoice_record_payment(tenant=tenant_a, invoice=paid, amount=paid.amount)

    def effective(invoice):
        with scopes_disabled():
            return Invoice.objects.get(pk=invoice.pk).effective_due_date

    def due_amount(day):
        with scopes_disabled():
            stat = DailyStat.objects.filter(tenant=tenant_a, day=day, segment_id=0).first()
        return getattr(stat, "due_amount", 0)

    client = login(owner)
    client.post("/settings/company/holidays/", {"date": "2026-12-07", "name": "Padroeira"})
    assert (effective(open_one), effective(paid), effective(other_tenant)) == (
        tuesday,
        monday,
        monday,
    )
    assert due_amount(tuesday) == 300 and due_amount(monday) == 50

    with scopes_disabled():
        holiday = tenant_a.holidays.get()
    client.post(f"/settings/company/holidays/{holiday.pk}/delete/")
    assert effective(open_one) == monday and due_amount(monday) == 350

    # After an upgrade that changes the calendar's rules, the command catches stored invoices up.
    with scopes_disabled():
        Invoice.objects.filter(pk=open_one.pk).update(effective_due_date=date(2026, 12, 9))
    call_command("refresh_due_dates", "--tenant", tenant_a.slug)
    assert effective(open_one) == monday


def test_choosing_the_state_on_the_settings_page_moves_due_dates_to_its_holidays(
    tenant_a, owner, login
):
    """09/07/2026 is a holiday in São Paulo only: an open invoice due that day is due on the
    10th once the company says it is in SP, and back on the 9th when it moves to PE."""
    ninth, tenth = date(2026, 7, 9), date(2026, 7, 10)
    invoice = InvoiceFactory(tenant=tenant_a, due_date=ninth, issue_date=date(2026, 6, 1))

    def effective():
        with scopes_disabled():
            return Invoice.objects.get(pk=invoice.pk).effective_due_date

    client = login(owner)
    assert effective() == ninth
    assert client.post("/settings/company/", company_form(tenant_a, state="SP")).status_code == 302
    assert effective() == tenth
    assert client.post("/settings/company/", company_form(tenant_a, state="PE")).status_code == 302
    assert effective() == ninth
