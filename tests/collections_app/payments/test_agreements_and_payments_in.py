"""Agreements replacing debt, payments coming back (webhook, API, by hand), attribution and
overpayments."""

import json
import time
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_scopes import scope

from collections_app.engine import ladder_evaluate
from collections_app.models import (
    Agreement,
    AgreementStatus,
    FollowUpTask,
    Interaction,
    Invoice,
    InvoiceStatus,
    Payment,
)
from collections_app.payments.agreements import (
    AgreementError,
    agreement_create,
    agreement_plan,
    agreements_check,
)
from collections_app.payments.services import invoice_record_payment
from collections_app.payments.webhook import payment_signature
from messaging.models import Message, MessageStatus
from messaging.sending import message_send
from tenants.selectors import tenant_today
from tests.clock import on_the_suite_day
from tests.collections_app.factories import InvoiceFactory

pytestmark = pytest.mark.django_db


def debts(tenant, *amounts, days_late=20):
    today = tenant_today(tenant=tenant)
    return [
        InvoiceFactory(
            tenant=tenant,
            due_date=today - timedelta(days=days_late + k),
            amount=amount,
            customer={"external_id": "ANA", "name": "Ana", "document": "12345678000195"},
        )
        for k, amount in enumerate(amounts)
    ]


def test_a_plan_adds_up_to_the_total_in_cents():

    plan = agreement_plan(total=Decimal("1000.00"), count=3, first_due=date(2027, 1, 31))
    assert [amount for _due, amount in plan] == [
        Decimal("333.33"),
        Decimal("333.33"),
        Decimal("333.34"),
    ]
    assert [due for due, _amount in plan] == [
        date(2027, 1, 31),
        date(2027, 2, 28),
        date(2027, 3, 31),
    ]


def test_an_agreement_replaces_the_debt_and_suspends_its_ladder(tenant_a, agent):
    originals = debts(tenant_a, "600.00", "400.00")
    today = tenant_today(tenant=tenant_a)
    with scope(tenant=tenant_a):
        agreement = agreement_create(
            tenant=tenant_a,
            customer=originals[0].customer,
            invoices=originals,
            instalments=4,
            first_due_date=today + timedelta(days=5),
            today=today,
            total=Decimal("1000.00"),
            actor=agent,
        )
        instalments = list(agreement.instalments.order_by("due_date"))
        statuses = set(
            Invoice.objects.filter(pk__in=[o.pk for o in originals]).values_list(
                "status", flat=True
            )
        )
        result = ladder_evaluate(tenant=tenant_a, today=today)
        reminded = set(
            Message.objects.filter(invoice_links__invoice__in=originals).values_list(
                "status", flat=True
            )
        )
        logged = Interaction.objects.filter(kind="agreement").values_list("summary", flat=True)
    assert statuses == {InvoiceStatus.IN_AGREEMENT}
    assert [i.amount for i in instalments] == [Decimal("250.00")] * 4
    assert all(i.payment_token and i.pix_txid for i in instalments)
    assert reminded <= {MessageStatus.CANCELLED}  # the replaced invoices get no reminders
    assert result.as_dict()["created"] >= 0
    assert len(logged) == 1 and "4x de R$ 250,00" in logged[0]


def test_an_agreement_refuses_what_is_not_open_debt(tenant_a):
    [paid, other] = debts(tenant_a, "100.00", "50.00")
    today = tenant_today(tenant=tenant_a)
    with scope(tenant=tenant_a):
        invoice_record_payment(tenant=tenant_a, invoice=paid, amount=Decimal("100.00"))
        paid.refresh_from_db()
        with pytest.raises(AgreementError):
            agreement_create(
                tenant=tenant_a,
                customer=paid.customer,
                invoices=[paid, other],
                instalments=2,
                first_due_date=today,
                today=today,
            )
        assert not Agreement.objects.exists()
        other.refresh_from_db()
    assert other.status == InvoiceStatus.OPEN  # nothing half-written


def test_paying_every_instalment_completes_the_agreement_and_settles_the_debt(tenant_a):
    originals = debts(tenant_a, "300.00", "200.00")
    today = tenant_today(tenant=tenant_a)
    with scope(tenant=tenant_a):
        agreement = agreement_create(
            tenant=tenant_a,
            customer=originals[0].customer,
            invoices=originals,
            instalments=2,
            first_due_date=today,
            today=today,
            total=Decimal("500.00"),
        )
        for instalment in agreement.instalments.order_by("due_date"):
            invoice_record_payment(tenant=tenant_a, invoice=instalment, amount=instalment.amount)
        agreement.refresh_from_db()
        settled = list(
            Invoice.objects.filter(pk__in=[o.pk for o in originals]).values_list(
                "status", "amount_paid"
            )
        )
        thank_yous = Message.objects.filter(purpose="thank_you").count()
    assert agreement.status == AgreementStatus.COMPLETED and agreement.ended_at
    assert sorted(settled) == [("paid", Decimal("200.00")), ("paid", Decimal("300.00"))]
    assert thank_yous == 0  # nobody was reminded about these instalments


def test_a_missed_instalment_breaks_the_agreement_and_resumes_the_ladder(tenant_a, agent):
    originals = debts(tenant_a, "300.00", "200.00")
    today = tenant_today(tenant=tenant_a)
    with scope(tenant=tenant_a):
        agreement = agreement_create(
            tenant=tenant_a,
            customer=originals[0].customer,
            invoices=originals,
            instalments=2,
            first_due_date=today,
            today=today,
            total=Decimal("500.00"),
        )
        first, second = agreement.instalments.order_by("due_date")
        invoice_record_payment(tenant=tenant_a, invoice=first, amount=Decimal("250.00"))
        # Within the grace period nothing happens.
        grace_end = second.effective_due_date + timedelta(days=agreement.grace_days)
        assert agreements_check(tenants=[tenant_a], today=grace_end) == 0
        assert agreements_check(tenants=[tenant_a], today=grace_end + timedelta(days=1)) == 1
        agreement.refresh_from_db()
        second.refresh_from_db()
        reopened = {
            o.external_id: (o.status, o.amount_paid)
            for o in Invoice.objects.filter(pk__in=[o.pk for o in originals])
        }
        task = FollowUpTask.objects.get(origin="agreement")
    assert agreement.status == AgreementStatus.BROKEN
    assert second.status == InvoiceStatus.CANCELLED
    # The R$ 250 paid goes to the oldest invoice first (R$ 200, now paid), the rest to the
    # next, which reopens with its balance for the ladder.
    oldest, newest = sorted(originals, key=lambda i: i.effective_due_date)
    assert oldest.amount == Decimal("200.00")
    assert reopened[oldest.external_id] == ("paid", Decimal("200.00"))
    assert reopened[newest.external_id] == ("open", Decimal("50.00"))
    assert task.assignee_id == agent.pk and "quebrado" in task.title


# --- The payment gateway webhook ------------------------------------------------------------


def signed_post(client, tenant, event: dict, *, secret=None, timestamp=None):
    body = json.dumps(event).encode()
    stamp = str(int(timestamp if timestamp is not None else time.time()))
    return client.post(
        f"/webhooks/payments/{tenant.slug}/",
        body,
        content_type="application/json",
        HTTP_X_REGUA_TIMESTAMP=stamp,
        HTTP_X_REGUA_SIGNATURE=payment_signature(
            secret or tenant.payment_webhook_secret, stamp, body
        ),
    )


@pytest.fixture
def gateway(tenant_a):
    tenant_a.payment_webhook_secret = "whsec-test-123"
    tenant_a.save()
    return tenant_a


def test_a_signed_payment_is_recorded_once_however_often_it_is_replayed(client, gateway):
    [invoice] = debts(gateway, "150.00")
    event = {"id": "evt_1", "invoice": invoice.external_id, "amount": "150.00"}
    first = signed_post(client, gateway, event)
    again = signed_post(client, gateway, event)
    assert first.status_code == 201 and first.json()["status"] == "recorded"
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    with scope(tenant=gateway):
        invoice.refresh_from_db()
        payments = list(Payment.objects.values_list("amount", "source"))
    assert payments == [(Decimal("150.00"), "gateway")]
    assert invoice.status == InvoiceStatus.PAID


def test_a_pix_notification_finds_the_invoice_by_its_txid(client, gateway):
    [invoice] = debts(gateway, "80.00")
    answer = signed_post(client, gateway, {"id": "pix-9", "txid": invoice.pix_txid, "amount": "30"})
    assert answer.status_code == 201
    with scope(tenant=gateway):
        invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("30.00") and invoice.status == InvoiceStatus.OPEN


@pytest.mark.parametrize(
    "tamper",
    ["wrong-secret", "stale", "no-headers"],
)
def test_a_forged_or_stale_notification_gets_403_and_records_nothing(client, gateway, tamper):
    [invoice] = debts(gateway, "150.00")
    event = {"id": "evt_f", "invoice": invoice.external_id, "amount": "150.00"}
    if tamper == "wrong-secret":
        response = signed_post(client, gateway, event, secret="guess")
    elif tamper == "stale":
        response = signed_post(client, gateway, event, timestamp=time.time() - 3600)
    else:
        response = client.post(
            f"/webhooks/payments/{gateway.slug}/", event, content_type="application/json"
        )
    assert response.status_code == 403
    with scope(tenant=gateway):
        assert not Payment.objects.exists()


@pytest.mark.parametrize(
    ("event", "status", "error"),
    [
        ({"id": "e", "invoice": "NOPE", "amount": "1"}, 404, "no invoice"),
        ({"id": "e", "invoice": "X", "amount": "abc"}, 400, "amount"),
        ({"invoice": "X", "amount": "1"}, 400, "id"),
        ({"id": "e", "invoice": "X", "amount": "1", "paid_at": "ontem"}, 400, "paid_at"),
    ],
)
def test_a_malformed_notification_is_refused_with_the_reason(client, gateway, event, status, error):
    response = signed_post(client, gateway, event)
    assert response.status_code == status and error in response.json()["error"]


def test_a_tenant_without_a_secret_accepts_no_notifications(client, tenant_a):
    response = client.post(
        f"/webhooks/payments/{tenant_a.slug}/", {"id": "x"}, content_type="application/json"
    )
    assert response.status_code == 403


# --- Attribution and overpayments ------------------------------------------------------------


def reminded_by_sms(tenant):
    """An invoice due today whose D0 reminder went out by SMS: (invoice, message)."""
    today = tenant_today(tenant=tenant)
    invoice = InvoiceFactory(
        tenant=tenant,
        due_date=today,
        amount="120.00",
        customer={
            "external_id": "SMS",
            "name": "Bia",
            "phone": "+5511987650000",
            "preferred_channels": ["sms"],
        },
    )
    with scope(tenant=tenant):
        ladder_evaluate(tenant=tenant, today=today)
        message = Message.objects.get(invoice_links__invoice=invoice)
        message_send(tenant=tenant, message_id=message.pk)
    return invoice, message


@on_the_suite_day  # an invoice due today gets its D0 today: a business day
def test_a_payment_is_attributed_to_the_last_message_or_click_within_seven_days(tenant_a):
    invoice, message = reminded_by_sms(tenant_a)
    with scope(tenant=tenant_a):
        payment, _ = invoice_record_payment(
            tenant=tenant_a, invoice=invoice, amount=Decimal("120.00")
        )
        payment.refresh_from_db()
        step = message.invoice_links.get().dispatch.step
    assert payment.attributed_message_id == message.pk and payment.attributed_via == "message"
    assert payment.attributed_channel == "sms" and payment.attributed_step_id == step.pk


def test_a_payment_long_after_the_last_message_is_not_attributed(tenant_a):
    [invoice] = debts(tenant_a, "90.00")
    with scope(tenant=tenant_a):
        payment, _ = invoice_record_payment(
            tenant=tenant_a, invoice=invoice, amount=Decimal("90.00")
        )
    assert payment.attributed_message_id is None and payment.attributed_via == ""


def test_an_overpayment_is_kept_and_handed_to_the_team(tenant_a, agent):
    [invoice] = debts(tenant_a, "100.00")
    with scope(tenant=tenant_a):
        invoice_record_payment(tenant=tenant_a, invoice=invoice, amount=Decimal("60.00"))
        invoice_record_payment(
            tenant=tenant_a,
            invoice=invoice,
            amount=Decimal("70.00"),
            paid_at=timezone.now(),
        )
        invoice.refresh_from_db()
        task = FollowUpTask.objects.get(origin="overpayment")
    assert invoice.status == InvoiceStatus.PAID and invoice.amount_paid == Decimal("130.00")
    assert invoice.amount_due == 0
    assert "R$ 30,00" in task.title and task.assignee_id == agent.pk


# --- Agents: manual payments and agreements ---------------------------------------------------


def test_an_agent_records_a_payment_by_hand_and_a_viewer_cannot(tenant_a, agent, viewer, login):
    [invoice] = debts(tenant_a, "1234.50")
    url = f"/invoices/{invoice.pk}/payment/"
    assert login(viewer).post(url, {"amount": "1.234,50"}).status_code == 403
    answer = login(agent).post(url, {"amount": "1.234,50"}, follow=True)
    assert "Pagamento registrado" in answer.content.decode()
    with scope(tenant=tenant_a):
        payment = Payment.objects.get()
        invoice.refresh_from_db()
    assert payment.source == "manual" and payment.recorded_by_id == agent.pk
    assert invoice.status == InvoiceStatus.PAID
    bad = login(agent).post(url, {"amount": "mil reais"}, follow=True).content.decode()
    assert "Digite o valor" in bad


def test_an_agent_sets_up_an_agreement_for_all_open_invoices(tenant_a, agent, login):
    originals = debts(tenant_a, "300.00", "200.00")
    answer = login(agent).post(
        f"/invoices/{originals[0].pk}/agreement/",
        {"instalments": "5", "total": "500,00", "all_open": "1"},
        follow=True,
    )
    assert "Acordo" in answer.content.decode()
    with scope(tenant=tenant_a):
        agreement = Agreement.objects.get()
        replaced = set(agreement.original_invoices.values_list("pk", flat=True))
    assert replaced == {o.pk for o in originals} and agreement.created_by_id == agent.pk
    assert agreement.total_amount == Decimal("500.00") and agreement.instalment_count == 5


@pytest.mark.parametrize(("typed", "total"), [("99.90", "99.90"), ("1.234,50", "1234.50")])
def test_an_agreement_total_is_read_as_people_type_it(tenant_a, agent, login, typed, total):
    [invoice] = debts(tenant_a, "2000.00")
    login(agent).post(f"/invoices/{invoice.pk}/agreement/", {"instalments": "2", "total": typed})
    with scope(tenant=tenant_a):
        assert Agreement.objects.get().total_amount == Decimal(total)


def test_an_agreement_total_that_reads_two_ways_is_refused(tenant_a, agent, login):
    [invoice] = debts(tenant_a, "2000.00")
    answer = login(agent).post(
        f"/invoices/{invoice.pk}/agreement/", {"instalments": "2", "total": "1,234"}, follow=True
    )
    assert "pode ser lido de dois jeitos" in answer.content.decode()
    with scope(tenant=tenant_a):
        assert not Agreement.objects.exists()


def test_the_api_creates_lists_and_breaks_agreements(api_a, tenant_a):
    [invoice] = debts(tenant_a, "900.00")
    today = tenant_today(tenant=tenant_a)
    created = api_a.post(
        "/api/v1/agreements/",
        {
            "customer": invoice.customer.external_id,
            "invoices": [invoice.external_id],
            "instalment_count": 3,
            "first_due_date": (today + timedelta(days=3)).isoformat(),
            "total": "900.00",
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["original_invoices"] == [invoice.external_id]
    assert len(body["instalments"]) == 3 and body["status"] == "active"
    refused = api_a.post(
        "/api/v1/agreements/",
        {
            "customer": invoice.customer.external_id,
            "invoices": [invoice.external_id],
            "instalment_count": 2,
            "first_due_date": today.isoformat(),
        },
        content_type="application/json",
    )
    assert refused.status_code == 400  # the invoice is in an agreement already
    broken = api_a.post(f"/api/v1/agreements/{body['id']}/break/")
    assert broken.status_code == 200 and broken.json()["status"] == "broken"
    with scope(tenant=tenant_a):
        invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    listed = api_a.get("/api/v1/agreements/").json()
    assert listed["count"] == 1


def test_the_webhook_secret_command_creates_then_rotates(tenant_a, client, capsys):

    call_command("payment_webhook_secret", tenant_a.slug)
    first = capsys.readouterr().out.strip()
    call_command("payment_webhook_secret", tenant_a.slug)
    assert capsys.readouterr().out.strip() == first  # shown again, not replaced
    call_command("payment_webhook_secret", tenant_a.slug, "--rotate")
    second = capsys.readouterr().out.strip()
    assert first and second.startswith("whsec_") and second != first
    tenant_a.refresh_from_db()
    [invoice] = debts(tenant_a, "10.00")
    event = {"id": "e1", "invoice": invoice.external_id, "amount": "10.00"}
    assert signed_post(client, tenant_a, event, secret=first).status_code == 403
    assert signed_post(client, tenant_a, event, secret=second).status_code == 201


@on_the_suite_day  # an invoice due today gets its D0 today: a business day
def test_recovery_per_step_channel_and_segment(tenant_a, api_a):
    invoice, message = reminded_by_sms(tenant_a)
    with scope(tenant=tenant_a):
        invoice_record_payment(tenant=tenant_a, invoice=invoice, amount=Decimal("120.00"))
    body = api_a.get("/api/v1/metrics/recovery/").json()
    [row] = body["results"]
    assert row["channel"] == "sms" and row["step"] == "D0"
    assert (row["sent"], row["payments"], row["recovered_amount"]) == (1, 1, "120.00")
    assert row["payment_rate"] == 1.0
    assert api_a.get("/api/v1/metrics/recovery/?from=2026-13-01").status_code == 400
