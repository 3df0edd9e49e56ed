"""Segments, promises, task assignment, escalation, channel preferences and one message per
customer."""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from collections_app.engine import ladder_evaluate
from collections_app.engine.ladders import ladder_save
from collections_app.models import (
    Customer,
    Dispatch,
    FollowUpTask,
    Interaction,
    InvoiceMessage,
    PaymentPromise,
    Segment,
)
from collections_app.payments.promises import PromiseError, promise_create
from collections_app.payments.services import invoice_record_payment
from messaging.models import Message, MessageStatus
from messaging.sending import message_send
from tenants.models import Role
from tests.collections_app.factories import InvoiceFactory, customer_of
from tests.tenants.factories import MembershipFactory

pytestmark = pytest.mark.django_db
DAY = date(2026, 12, 2)  # a Wednesday


def evaluate(tenant, day):
    with scope(tenant=tenant):
        return ladder_evaluate(tenant=tenant, today=day)


def customer(ext, **extra):
    return {
        "external_id": ext,
        "name": f"Cliente {ext}",
        "email": f"{ext}@example.com",
        "phone": "+5511987654321",
        **extra,
    }


def history(tenant, cust, *, late_days: list[int]):
    """Paid invoices in the past, each paid `late` days after its due date."""
    for n, late in enumerate(late_days):
        due = date(2026, 6, 1) + timedelta(days=20 * n)
        due = due + timedelta(days=(7 - due.weekday()) % 7)  # a Monday, a business day
        inv = InvoiceFactory(tenant=tenant, due_date=due, customer=cust)
        paid = due + timedelta(days=late)
        with scope(tenant=tenant):
            invoice_record_payment(
                tenant=tenant,
                invoice=inv,
                amount=inv.amount,
                paid_at=datetime(paid.year, paid.month, paid.day, 15, tzinfo=UTC),
            )


# --- promises ---------------------------------------------------------------------------------


def test_promise_pauses_the_ladder_until_its_date_then_resumes(tenant_a):
    monday = date(2026, 11, 30)
    invoice = InvoiceFactory(tenant=tenant_a, due_date=monday)
    tenant_a.last_evaluated_on = monday
    tenant_a.last_evaluated_at = timezone.now()
    tenant_a.save()
    with scope(tenant=tenant_a):
        promise_create(
            tenant=tenant_a,
            invoice=invoice,
            promised_date=date(2026, 12, 5),
            today=date(2026, 12, 1),
        )
    result = evaluate(tenant_a, date(2026, 12, 3))  # D+3 while the promise is open
    assert result.skipped == {"promise_open": 1} and result.messages == 0
    for day in (4, 5, 6):
        evaluate(tenant_a, date(2026, 12, day))
    with scope(tenant=tenant_a):
        promise = PaymentPromise.objects.get()
        assert promise.status == "broken"  # 05/12 passed unpaid
        result = ladder_evaluate(tenant=tenant_a, today=date(2026, 12, 7))  # D+7
    assert result.messages == 2  # WhatsApp and SMS: the ladder resumed
    with scopes_disabled():
        summaries = list(
            Interaction.objects.filter(kind="promise").values_list("summary", flat=True)
        )
    assert any("não cumprida" in s for s in summaries)


def test_promise_cancels_queued_reminders_and_payment_keeps_it(tenant_a):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=DAY)
    evaluate(tenant_a, DAY)
    with scope(tenant=tenant_a):
        promise_create(
            tenant=tenant_a, invoice=invoice, promised_date=DAY + timedelta(days=3), today=DAY
        )
        assert Message.objects.get().status == MessageStatus.CANCELLED
        invoice_record_payment(tenant=tenant_a, invoice=invoice, amount=invoice.amount)
        assert PaymentPromise.objects.get().status == "kept"


@pytest.mark.parametrize(
    "days, message", [(0, "depois de hoje"), (45, "no máximo daqui a 30 dias")]
)
def test_promise_date_is_validated(tenant_a, days, message):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=DAY)
    with scope(tenant=tenant_a), pytest.raises(PromiseError, match=message):
        promise_create(
            tenant=tenant_a, invoice=invoice, promised_date=DAY + timedelta(days=days), today=DAY
        )


# --- segments -------------------------------------------------------------------------------


def test_behaviour_classes_come_from_payment_history(tenant_a):
    history(tenant_a, customer("ON"), late_days=[0, 0, 0])
    history(tenant_a, customer("SOME"), late_days=[0, 0, 4])
    history(tenant_a, customer("CHRONIC"), late_days=[10, 20, 0])
    history(tenant_a, customer("NEW"), late_days=[0])
    evaluate(tenant_a, DAY)
    with scopes_disabled():
        classes = dict(Customer.objects.values_list("external_id", "behaviour"))
    assert classes == {
        "ON": "on_time",
        "SOME": "sometimes_late",
        "CHRONIC": "chronically_late",
        "NEW": "new",
    }


def test_first_matching_segment_wins_and_uses_its_ladder(tenant_a, api_a):
    with scope(tenant=tenant_a):
        vip_ladder, _ = ladder_save(
            tenant=tenant_a,
            data={"name": "VIP"},
            steps=[{"offset_days": 0, "kind": "task", "task_title": "Ligar para o VIP"}],
        )
        Segment.objects.create(
            tenant=tenant_a,
            name="Grandes",
            priority=1,
            ladder=vip_ladder,
            rule={"kind": "amount_at_least", "value": "5000"},
        )
        Segment.objects.create(
            tenant=tenant_a,
            name="Atrasados",
            priority=2,
            ladder=vip_ladder,
            rule={"kind": "behaviour", "value": "chronically_late"},
        )
    big = InvoiceFactory(tenant=tenant_a, due_date=DAY, amount="9000.00", customer=customer("BIG"))
    InvoiceFactory(tenant=tenant_a, due_date=DAY, amount="100.00", customer=customer("SMALL"))
    result = evaluate(tenant_a, DAY)
    assert result.tasks == 1 and result.messages == 1  # BIG: VIP task; SMALL: default D0
    with scopes_disabled():
        assert FollowUpTask.objects.get().invoice_id == big.pk
    body = api_a.get("/api/v1/customers/?external_id=BIG").json()["results"][0]
    assert body["segment_reason"].startswith("Grandes: valor em aberto ≥ R$ 5.000,00")
    assert api_a.get("/api/v1/customers/?external_id=SMALL").json()["results"][0]["segment"] is None


def test_manual_segment_sticks_until_cleared(tenant_a, api_a):
    with scope(tenant=tenant_a):
        ladder, _ = ladder_save(tenant=tenant_a, data={"name": "Manual"}, steps=[])
        seg = Segment.objects.create(
            tenant=tenant_a, name="Escolhidos", ladder=ladder, rule={"kind": "manual"}
        )
    InvoiceFactory(tenant=tenant_a, due_date=DAY, customer=customer("M"))
    cid = api_a.get("/api/v1/customers/?external_id=M").json()["results"][0]["id"]
    response = api_a.patch(
        f"/api/v1/customers/{cid}/",
        json.dumps({"segment": seg.pk}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    evaluate(tenant_a, DAY)
    body = api_a.get(f"/api/v1/customers/{cid}/").json()
    assert body["segment"] == seg.pk and body["segment_manual"] is True
    api_a.patch(
        f"/api/v1/customers/{cid}/", json.dumps({"segment": None}), content_type="application/json"
    )
    assert api_a.get(f"/api/v1/customers/{cid}/").json()["segment_manual"] is False


def test_a_customer_moved_to_another_ladder_is_not_contacted_twice_for_the_same_day(
    tenant_a, api_a
):
    invoice = InvoiceFactory(tenant=tenant_a, due_date=DAY, customer=customer("MOVED"))
    assert evaluate(tenant_a, DAY).messages == 1  # the default ladder's D0
    with scope(tenant=tenant_a):
        ladder, _ = ladder_save(
            tenant=tenant_a,
            data={"name": "Outra"},
            steps=[
                {"offset_days": 0, "channels": ["email"], "template_key": "due_today"},
                {"offset_days": 1, "channels": ["email"], "template_key": "due_today"},
            ],
        )
        seg = Segment.objects.create(
            tenant=tenant_a, name="Movidos", ladder=ladder, rule={"kind": "manual"}
        )
    cid = api_a.get("/api/v1/customers/?external_id=MOVED").json()["results"][0]["id"]
    response = api_a.patch(
        f"/api/v1/customers/{cid}/",
        json.dumps({"segment": seg.pk}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    # Run again the same day: the new ladder's D0 is the same day's contact, already made.
    again = evaluate(tenant_a, DAY)
    assert (again.created, again.messages) == (0, 0)
    # The next day the new ladder goes on from where the customer is.
    following = evaluate(tenant_a, DAY + timedelta(days=1))
    assert following.messages == 1
    with scopes_disabled():
        steps = list(
            Dispatch.objects.filter(invoice=invoice)
            .order_by("id")
            .values_list("step__ladder__name", "step__offset_days")
        )
    assert steps == [("Régua padrão", 0), ("Outra", 1)]


# --- people -----------------------------------------------------------------------------------


def test_tasks_are_spread_over_agents(tenant_a):
    ana = MembershipFactory(tenant=tenant_a, role=Role.AGENT, user__email="ana@example.com").user
    bia = MembershipFactory(tenant=tenant_a, role=Role.AGENT, user__email="bia@example.com").user
    for n in range(4):
        InvoiceFactory(
            tenant=tenant_a, due_date=DAY - timedelta(days=15), customer=customer(f"T{n}")
        )
    evaluate(tenant_a, DAY)
    with scopes_disabled():
        load = sorted(FollowUpTask.objects.values_list("assignee_id", flat=True))
    assert load == sorted([ana.pk, ana.pk, bia.pk, bia.pk])


def test_tasks_go_to_the_named_owner(tenant_a, owner):
    MembershipFactory(tenant=tenant_a, role=Role.AGENT)
    tenant_a.task_assignment, tenant_a.task_owner = "owner", owner
    tenant_a.save()
    InvoiceFactory(tenant=tenant_a, due_date=DAY - timedelta(days=15))
    evaluate(tenant_a, DAY)
    with scopes_disabled():
        assert FollowUpTask.objects.get().assignee_id == owner.pk


def test_large_account_escalates_once(tenant_a):
    tenant_a.escalation_amount = Decimal("5000")
    tenant_a.save()
    monday = date(2026, 11, 30)
    InvoiceFactory(tenant=tenant_a, due_date=monday, amount="8000.00", customer=customer("BIG"))
    InvoiceFactory(tenant=tenant_a, due_date=monday, amount="100.00", customer=customer("SMALL"))
    tenant_a.last_evaluated_on = monday
    tenant_a.last_evaluated_at = timezone.now()
    tenant_a.save()
    for day in range(1, 8):
        evaluate(tenant_a, date(2026, 12, day))
    with scopes_disabled():
        tasks = list(FollowUpTask.objects.filter(origin="escalation"))
    assert len(tasks) == 1
    assert tasks[0].invoice.customer.external_id == "BIG"


def test_no_escalation_until_an_admin_sets_a_threshold(tenant_a):
    InvoiceFactory(tenant=tenant_a, due_date=DAY - timedelta(days=3), amount="999999.00")
    evaluate(tenant_a, DAY)
    with scopes_disabled():
        assert not FollowUpTask.objects.filter(origin="escalation").exists()


# --- channels and grouping -------------------------------------------------------------------


def test_preferred_channel_goes_first_in_a_fallback_step(tenant_a):
    InvoiceFactory(
        tenant=tenant_a, due_date=DAY, customer=customer("P", preferred_channels=["email"])
    )
    evaluate(tenant_a, DAY)
    with scopes_disabled():
        assert [m.channel for m in Message.objects.all()] == ["email"]


def test_one_message_per_customer_lists_every_invoice(tenant_a):
    tenant_a.one_message_per_customer = True
    tenant_a.save()
    cust = customer("G")
    first = InvoiceFactory(
        tenant=tenant_a, external_id="NF-1", due_date=DAY, amount="100.00", customer=cust
    )
    second = InvoiceFactory(
        tenant=tenant_a, external_id="NF-2", due_date=DAY, amount="250.50", customer=cust
    )
    result = evaluate(tenant_a, DAY)
    assert result.created == 2 and result.messages == 1
    with scope(tenant=tenant_a):
        message = Message.objects.get()
        message_send(tenant=tenant_a, message_id=message.pk)
        message.refresh_from_db()
        linked = set(InvoiceMessage.objects.values_list("invoice_id", flat=True))
        assert Dispatch.objects.count() == 2
    assert linked == {first.pk, second.pk}
    assert "NF-1, NF-2" in message.body and "R$ 350,50" in message.body


def test_without_the_setting_each_invoice_gets_its_own_message(tenant_a):
    cust = customer("G")
    InvoiceFactory(tenant=tenant_a, due_date=DAY, customer=cust)
    InvoiceFactory(tenant=tenant_a, due_date=DAY, customer=cust)
    assert evaluate(tenant_a, DAY).messages == 2


def test_customer_page_shows_segment_and_reason(login, owner, tenant_a):
    inv = InvoiceFactory(tenant=tenant_a, due_date=DAY, amount="9000.00")
    with scope(tenant=tenant_a):
        ladder, _ = ladder_save(tenant=tenant_a, data={"name": "VIP"}, steps=[])
        Segment.objects.create(
            tenant=tenant_a,
            name="Grandes",
            ladder=ladder,
            rule={"kind": "amount_at_least", "value": "5000"},
        )
    evaluate(tenant_a, DAY)
    page = login(owner).get(f"/customers/{customer_of(inv).pk}/").content.decode()
    assert "Grandes" in page and "valor em aberto" in page
