"""Explain and forecast: why each step of an invoice was sent, skipped or is planned, and the
next days' sends per tenant, segment and channel, agreeing with each other and the engine."""

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django_scopes import scope, scopes_disabled
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

from collections_app.engine import ladder_evaluate
from collections_app.engine.explain import invoice_explain
from collections_app.engine.forecast import tenant_forecast
from collections_app.models import Invoice, Ladder, LadderStep, Segment
from collections_app.payments.services import invoice_record_payment
from tests.clock import on_the_suite_day
from tests.collections_app.factories import InvoiceFactory, customer_of

pytestmark = [pytest.mark.django_db, on_the_suite_day]  # its days are written for 2026-12-02

# A Wednesday with no holiday around it (as in test_engine).
TODAY = date(2026, 12, 2)
NO_PHONE = {"external_id": "C-MAIL", "name": "Ana", "email": "ana@example.com"}


def evaluate(tenant, day):
    with scope(tenant=tenant):
        result = ladder_evaluate(tenant=tenant, today=day)
    tenant.refresh_from_db()
    return result


def explain(tenant, invoice, today):
    tenant.refresh_from_db()
    with scope(tenant=tenant):
        return {e["step"]: e for e in invoice_explain(tenant=tenant, invoice=invoice, today=today)}


def forecast(tenant, start, days=30):
    tenant.refresh_from_db()
    with scope(tenant=tenant):
        return tenant_forecast(tenant=tenant, start=start, days=days)


def test_explain_sent_superseded_and_planned_counting_from_the_effective_due_date(tenant_a):
    sunday, monday = date(2026, 12, 13), date(2026, 12, 14)
    invoice = InvoiceFactory(tenant=tenant_a, due_date=sunday)
    assert invoice.effective_due_date == monday
    evaluate(tenant_a, date(2026, 12, 8))  # first evaluation: D-6, nothing due
    evaluate(tenant_a, date(2026, 12, 9))  # D-5 (five days before Monday): e-mail

    steps = explain(tenant_a, invoice, date(2026, 12, 10))
    assert steps["D-5"]["state"] == "sent"
    assert steps["D-5"]["scheduled_for"] == date(2026, 12, 9)
    assert [(m["channel"], m["status"]) for m in steps["D-5"]["messages"]] == [("email", "queued")]
    assert steps["D-1"]["state"] == "planned"
    assert steps["D-1"]["scheduled_for"] == sunday  # the tenant sends on Sundays
    assert steps["D-1"]["blocked_by"] is None and steps["D-1"]["would_use"] == ["email"]

    # An outage until Monday: D-1 is superseded by D0.
    evaluate(tenant_a, monday)
    steps = explain(tenant_a, invoice, date(2026, 12, 15))
    assert list(steps) == ["D-5", "D-1", "D0", "D+3", "D+7", "D+15"]
    assert (steps["D-1"]["state"], steps["D-1"]["reason"]) == ("skipped", "superseded")
    assert steps["D-1"]["reason_label"] not in ("", "superseded")  # readable, translated
    assert steps["D0"]["state"] == "sent"
    assert steps["D0"]["scheduled_for"] == monday
    assert [m["channel"] for m in steps["D0"]["messages"]] == ["whatsapp"]
    # Offsets count from Monday, not from the Sunday on the invoice.
    assert {k: (v["state"], v["scheduled_for"]) for k, v in steps.items() if k[1] == "+"} == {
        "D+3": ("planned", date(2026, 12, 17)),
        "D+7": ("planned", date(2026, 12, 21)),
        "D+15": ("planned", date(2026, 12, 29)),
    }
    assert steps["D+3"]["would_use"] == ["email", "whatsapp"]
    assert steps["D+15"]["kind"] == "task"


def test_explain_pre_due_step_dropped_and_holiday_shift(tenant_a):
    # Mon–Fri sends: D-1 of a Monday due date falls on Sunday, moves to Monday → dropped.
    tenant_a.send_days = "mon,tue,wed,thu,fri"
    tenant_a.save()
    invoice = InvoiceFactory(tenant=tenant_a, due_date=date(2026, 12, 7))
    steps = explain(tenant_a, invoice, date(2026, 12, 1))
    assert steps["D-1"]["state"] == "dropped"
    assert steps["D-1"]["reason"] == "pre_due_after_due_date"
    assert steps["D-1"]["scheduled_for"] is None
    # Christmas (a Friday) is no send day: D+3 of Tuesday 22 moves from Friday to Monday 28.
    xmas = InvoiceFactory(tenant=tenant_a, due_date=date(2026, 12, 22))
    assert explain(tenant_a, xmas, TODAY)["D+3"]["scheduled_for"] == date(2026, 12, 28)


def test_explain_paid_invoice_later_steps_are_stopped(tenant_a):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=TODAY + timedelta(days=5))
    evaluate(tenant_a, TODAY)  # D-5 sent
    with scope(tenant=tenant_a):
        invoice_record_payment(tenant=tenant_a, invoice=invoice, amount=invoice.amount)
    steps = explain(tenant_a, invoice, TODAY + timedelta(days=1))
    assert steps["D-5"]["state"] == "sent"
    for label in ("D-1", "D0", "D+3", "D+7", "D+15"):
        assert (steps[label]["state"], steps[label]["reason"]) == ("stopped", "invoice_paid")


def test_explain_first_evaluation_past_steps_are_not_sent(tenant_a):
    # Imported today, six days after its due date (a Thursday), into a tenant run daily.
    tenant_a.last_evaluated_on = TODAY - timedelta(days=1)
    tenant_a.last_evaluated_at = datetime(2026, 12, 1, 10, tzinfo=UTC)
    tenant_a.save()
    invoice = InvoiceFactory(tenant=tenant_a, due_date=TODAY - timedelta(days=6))
    with scopes_disabled():
        Invoice.objects.filter(pk=invoice.pk).update(
            created_at=datetime(2026, 12, 2, 9, tzinfo=UTC)
        )
    before = explain(tenant_a, invoice, TODAY)  # not seen by any run yet
    evaluate(tenant_a, TODAY)
    after = explain(tenant_a, invoice, TODAY)
    for steps in (before, after):
        for label in ("D-5", "D-1", "D0", "D+3"):
            assert steps[label]["state"] == "not_sent", label
            assert steps[label]["reason"] == "before_first_evaluation"
        assert steps["D+7"]["state"] == "planned"
        assert steps["D+7"]["scheduled_for"] == TODAY + timedelta(days=1)


def test_explain_steps_missed_during_an_outage_await_catch_up(tenant_a):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=TODAY + timedelta(days=6))  # a Tuesday
    evaluate(tenant_a, TODAY)  # seen: D-6, nothing due
    later = TODAY + timedelta(days=8)  # no run since: D-5, D-1 and D0 passed
    steps = explain(tenant_a, invoice, later)
    for label in ("D-5", "D-1", "D0"):
        assert (steps[label]["state"], steps[label]["reason"]) == ("not_sent", "awaiting_catch_up")
    evaluate(tenant_a, later)
    steps = explain(tenant_a, invoice, later)
    assert [steps[k]["reason"] for k in ("D-5", "D-1")] == ["superseded", "superseded"]
    assert steps["D0"]["state"] == "sent"


def test_explain_planned_steps_show_what_would_block_them(tenant_a):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=TODAY + timedelta(days=8))  # a Thursday
    with scopes_disabled():
        Invoice.objects.filter(pk=invoice.pk).update(paused_until=TODAY + timedelta(days=6))
    steps = explain(tenant_a, invoice, TODAY)
    assert steps["D-5"]["blocked_by"] == "paused"  # day 3 ≤ paused until day 6
    assert steps["D-1"]["blocked_by"] is None
    with scopes_disabled():
        Invoice.objects.filter(pk=invoice.pk).update(disputed=True)
    assert explain(tenant_a, invoice, TODAY)["D0"]["blocked_by"] == "disputed"


def test_step_of_a_day_already_evaluated_is_not_counted_on(tenant_a):
    evaluate(tenant_a, TODAY)  # today's run, before the invoice existed
    invoice = InvoiceFactory(tenant=tenant_a, due_date=TODAY)  # its D0 is today
    d0 = explain(tenant_a, invoice, TODAY)["D0"]
    assert (d0["state"], d0["blocked_by"]) == ("planned", "evaluated_today")
    day = forecast(tenant_a, TODAY, 1)["by_day"][0]
    assert (day["messages"], day["skipped"]) == (0, {"evaluated_today": 1})


def _portfolio(tenant, *, paused: bool = False):
    with_phone = InvoiceFactory(
        tenant=tenant, due_date=TODAY + timedelta(days=2)
    )  # D0 in the window
    no_phone = InvoiceFactory(tenant=tenant, due_date=TODAY + timedelta(days=9), customer=NO_PHONE)
    late = InvoiceFactory(tenant=tenant, due_date=TODAY + timedelta(days=40))  # nothing in 30 days
    invoices = [with_phone, no_phone, late]
    if paused:  # its D-5 (day 3) is skipped, its D-1 (day 7) goes
        invoices.append(InvoiceFactory(tenant=tenant, due_date=TODAY + timedelta(days=8)))
        with scopes_disabled():
            Invoice.objects.filter(pk=invoices[-1].pk).update(
                paused_until=TODAY + timedelta(days=5)
            )
    return invoices


def test_forecast_counts_match_the_explain_of_a_small_portfolio(tenant_a):
    invoices = _portfolio(tenant_a, paused=True)
    result = forecast(tenant_a, TODAY, 30)
    assert result["start"] == TODAY and result["days"] == 30
    assert len(result["by_day"]) == 30
    totals = result["totals"]
    # D0 WhatsApp: the invoices whose D0 falls in the window and whose customer has a phone;
    # the one without a phone falls back to e-mail.
    end = TODAY + timedelta(days=30)
    d0_in_window = [
        i for i in invoices if TODAY <= explain(tenant_a, i, TODAY)["D0"]["scheduled_for"] < end
    ]
    with_phone = [i for i in d0_in_window if customer_of(i).phone]
    assert (len(d0_in_window), len(with_phone)) == (3, 2)
    assert totals["by_step"]["D0"]["by_channel"] == {"email": 1, "whatsapp": len(with_phone)}
    assert totals["by_segment"] == {
        "default": {"messages": totals["messages"], "tasks": totals["tasks"]}
    }

    # Per day, the forecast is exactly the explain's planned steps with their channels.
    expected_messages, expected_tasks, expected_skips = Counter(), Counter(), Counter()
    for invoice in invoices:
        for entry in explain(tenant_a, invoice, TODAY).values():
            day = entry["scheduled_for"]
            if entry["state"] != "planned" or not TODAY <= day < TODAY + timedelta(days=30):
                continue
            if entry["blocked_by"]:
                expected_skips[(day, entry["blocked_by"])] += 1
            elif entry["kind"] == "task":
                expected_tasks[day] += 1
            else:
                expected_messages[day] += len(entry["would_use"])
    got_messages = Counter({d["date"]: d["messages"] for d in result["by_day"] if d["messages"]})
    got_tasks = Counter({d["date"]: d["tasks"] for d in result["by_day"] if d["tasks"]})
    got_skips = Counter(
        {(d["date"], r): n for d in result["by_day"] for r, n in d["skipped"].items()}
    )
    assert got_messages == expected_messages
    assert got_tasks == expected_tasks
    assert got_skips == expected_skips
    assert expected_skips == {
        (TODAY + timedelta(days=3), "paused"): 1,
        # D+7 goes on WhatsApp and SMS only: the customer without a phone is unreachable.
        (date(2026, 12, 18), "no_contact"): 1,
    }
    assert totals["tasks"] == 3  # D+15 of the invoices due on days 2, 8 and 9
    # D+3 goes on e-mail and WhatsApp to customers with a phone, e-mail only to the other.
    assert totals["by_step"]["D+3"]["by_channel"] == {"email": 3, "whatsapp": 2}


def test_forecast_matches_what_the_engine_then_does_day_by_day(tenant_a):
    _portfolio(tenant_a, paused=True)
    predicted = forecast(tenant_a, TODAY, 30)["by_day"]
    for expected in predicted:
        result = evaluate(tenant_a, expected["date"])
        assert (result.messages, result.tasks) == (expected["messages"], expected["tasks"])
        assert dict(result.skipped) == expected["skipped"], expected["date"]


def test_forecast_leaves_out_steps_already_dispatched_and_names_segments(tenant_a):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=TODAY + timedelta(days=5))
    assert forecast(tenant_a, TODAY, 1)["by_day"][0]["by_channel"] == {"email": 1}
    evaluate(tenant_a, TODAY)
    assert forecast(tenant_a, TODAY, 1)["by_day"][0]["messages"] == 0

    with scope(tenant=tenant_a):
        ladder = Ladder.objects.create(tenant=tenant_a, name="VIP")
        LadderStep.objects.create(
            tenant=tenant_a,
            ladder=ladder,
            offset_days=0,
            channels=["email"],
            template_key="due_today",
        )
        segment = Segment.objects.create(tenant=tenant_a, name="VIP", ladder=ladder)
    customer = customer_of(InvoiceFactory(tenant=tenant_a, due_date=TODAY + timedelta(days=2)))
    customer.segment, customer.segment_manual = segment, True
    customer.save()
    day2 = forecast(tenant_a, TODAY, 30)["by_day"][2]
    assert day2["by_segment"] == {"VIP": {"messages": 1, "tasks": 0}}
    assert day2["by_step"]["D0"]["by_channel"] == {"email": 1}
    # The default ladder's D0 for the first invoice, five days after today.
    assert forecast(tenant_a, TODAY, 30)["by_day"][5]["by_segment"] == {
        "default": {"messages": 1, "tasks": 0}
    }
    assert invoice.pk


def test_forecast_counts_skips_instead_of_sends(tenant_a):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=TODAY + timedelta(days=5))
    with scopes_disabled():
        Invoice.objects.filter(pk=invoice.pk).update(disputed=True)
    day = forecast(tenant_a, TODAY, 1)["by_day"][0]
    assert (day["messages"], day["skipped"]) == (0, {"disputed": 1})


def test_api_explain_and_forecast(tenant_a, api_a):
    invoice = InvoiceFactory(
        tenant=tenant_a, due_date=TODAY + timedelta(days=5), external_id="INV-API"
    )
    response = api_a.get(f"/api/v1/invoices/{invoice.pk}/explain/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["invoice"] == "INV-API"
    assert body["effective_due_date"] == invoice.effective_due_date.isoformat()
    assert [s["step"] for s in body["steps"]] == ["D-5", "D-1", "D0", "D+3", "D+7", "D+15"]

    response = api_a.get("/api/v1/forecast/", {"start": TODAY.isoformat(), "days": 10})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["start"] == TODAY.isoformat() and len(body["by_day"]) == 10
    assert body["by_day"][0]["by_channel"] == {"email": 1}
    assert len(api_a.get("/api/v1/forecast/").json()["by_day"]) == 30


def test_api_explain_of_another_tenants_invoice_is_404(tenant_a, tenant_b, api_a):
    other = InvoiceFactory(tenant=tenant_b, due_date=TODAY)
    assert api_a.get(f"/api/v1/invoices/{other.pk}/explain/").status_code == 404
    assert api_a.get("/api/v1/invoices/999999/explain/").status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-13-01"}, "start"),
        ({"start": "tomorrow"}, "start"),
        ({"days": "0"}, "days"),
        ({"days": "91"}, "days"),
        ({"days": "abc"}, "days"),
        ({"days": "1.5"}, "days"),
    ],
)
def test_api_forecast_bad_params_are_400(api_a, params, field):
    response = api_a.get("/api/v1/forecast/", params)
    assert response.status_code == 400
    assert field in response.json()


def test_api_requires_a_key(tenant_a, client):
    assert client.get("/api/v1/forecast/").status_code in (401, 403)


def test_openapi_schema_generates_without_warnings():
    GENERATOR_STATS.reset()
    # Outside any tenant scope, as `manage.py spectacular` and /api/schema/ run it.
    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert schema["paths"]["/api/v1/forecast/"]["get"]["operationId"] == "forecast"
    explain_op = schema["paths"]["/api/v1/invoices/{id}/explain/"]["get"]
    assert explain_op["parameters"][0]["name"] == "id"
    assert "ApiKey" in schema["components"]["securitySchemes"]
    assert list(GENERATOR_STATS._warn_cache) == []


def test_openapi_schema_and_docs_are_served(client):
    assert client.get("/api/schema/", HTTP_ACCEPT="application/json").status_code == 200
    docs = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in docs
    assert "cdn" not in docs.lower()


def test_forecast_ladders_command(tenant_a, capsys):
    _portfolio(tenant_a)
    call_command(
        "forecast_ladders", "--tenant", tenant_a.slug, "--start", TODAY.isoformat(), "--json"
    )
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert data["start"] == TODAY.isoformat() and data["days"] == 30
    assert data["totals"]["by_step"]["D0"]["by_channel"]["whatsapp"] == 1
    call_command("forecast_ladders", "--tenant", tenant_a.slug, "--start", TODAY.isoformat())
    table = capsys.readouterr().out
    assert "2026-12-04" in table and "total" in table
    with pytest.raises(CommandError):
        call_command("forecast_ladders", "--tenant", "nope")
    with pytest.raises(CommandError):
        call_command("forecast_ladders", "--tenant", tenant_a.slug, "--days", "0")
