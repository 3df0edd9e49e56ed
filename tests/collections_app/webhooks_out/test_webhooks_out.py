"""Outbound webhooks: the tenant's endpoints hear of events, signed, retried with backoff, each
event once; private addresses are refused; admins manage them and see the delivery log."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from collections_app.activity.followups import followup_task_create
from collections_app.engine import ladder_evaluate
from collections_app.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from collections_app.payments.promises import promise_create
from collections_app.payments.services import invoice_record_payment
from collections_app.signing import payment_signature
from collections_app.tasks import webhook_deliver
from collections_app.webhooks_out.events import MAX_ATTEMPTS
from tenants.selectors import tenant_today
from tests.collections_app.factories import InvoiceFactory
from tests.fakes import Answer, FakeProvider

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    with FakeProvider(Answer(200, {"ok": True})) as fake:
        yield fake


def endpoint_for(tenant, receiver, *events):
    with scope(tenant=tenant):
        return WebhookEndpoint.objects.create(
            tenant=tenant, url=f"{receiver.url}/hooks/regua", events=list(events)
        )


def test_a_payment_reaches_the_endpoint_signed(
    tenant_a, receiver, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(tenant_a, receiver, "payment.received")
    invoice = InvoiceFactory(
        tenant=tenant_a, due_date=tenant_today(tenant=tenant_a), amount="250.00"
    )
    with scope(tenant=tenant_a), django_capture_on_commit_callbacks(execute=True):
        payment, _ = invoice_record_payment(
            tenant=tenant_a, invoice=invoice, amount=Decimal("250.00")
        )
    [request] = receiver.requests
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["x-regua-event"] == "payment.received"
    assert headers["x-regua-signature"] == payment_signature(
        endpoint.secret, headers["x-regua-timestamp"], request.body
    )
    body = request.json()
    assert body["event"] == "payment.received" and body["data"]["payment_id"] == payment.pk
    assert body["data"]["invoice"]["external_id"] == invoice.external_id
    assert body["data"]["invoice"]["status"] == "paid"
    with scope(tenant=tenant_a):
        delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1


def test_a_failing_endpoint_is_retried_with_backoff_then_given_up(tenant_a, receiver):
    endpoint_for(tenant_a, receiver, "promise.created")
    receiver.answer = Answer(503, {"error": "down"})

    invoice = InvoiceFactory(
        tenant=tenant_a, due_date=tenant_today(tenant=tenant_a), amount="90.00"
    )
    today = tenant_today(tenant=tenant_a)
    with scope(tenant=tenant_a):
        promise_create(
            tenant=tenant_a, invoice=invoice, promised_date=today + timedelta(days=3), today=today
        )
        delivery = WebhookDelivery.objects.get()
    waits = []
    for _ in range(MAX_ATTEMPTS):
        with scopes_disabled():
            WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        before = timezone.now()
        webhook_deliver.apply(kwargs={"delivery_id": delivery.pk})
        delivery.refresh_from_db()
        if delivery.next_attempt_at:
            waits.append(round((delivery.next_attempt_at - before).total_seconds() / 60))
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == MAX_ATTEMPTS
    assert delivery.last_status_code == 503
    assert waits == [1, 2, 4, 8, 16, 32, 64]  # minutes, doubling
    assert len(receiver.requests) == MAX_ATTEMPTS
    # A task that comes early (a duplicate) sends nothing.
    assert webhook_deliver.apply(kwargs={"delivery_id": delivery.pk}).get() == "not due"


def test_each_overdue_invoice_is_announced_once(tenant_a, receiver):
    endpoint_for(tenant_a, receiver, "invoice.overdue")
    today = tenant_today(tenant=tenant_a)
    # Five days back: even moved to the next business day, it is overdue today.
    late = InvoiceFactory(tenant=tenant_a, due_date=today - timedelta(days=5), amount="80.00")
    InvoiceFactory(
        tenant=tenant_a, due_date=today + timedelta(days=3), amount="80.00"
    )  # not yet due
    with scope(tenant=tenant_a):
        for _ in range(2):
            ladder_evaluate(tenant=tenant_a, today=today)
        deliveries = list(WebhookDelivery.objects.values_list("event", "dedupe_key"))
    assert late.effective_due_date < today
    assert deliveries == [("invoice.overdue", f"invoice:{late.pk}")]


def test_task_and_message_events_reach_their_subscribers_only(tenant_a, receiver):
    endpoint_for(tenant_a, receiver, "task.created")

    invoice = InvoiceFactory(
        tenant=tenant_a, due_date=tenant_today(tenant=tenant_a), amount="10.00"
    )
    with scope(tenant=tenant_a):
        task = followup_task_create(
            tenant=tenant_a, customer_id=invoice.customer_id, title="Ligar", origin="step"
        )
        invoice_record_payment(tenant=tenant_a, invoice=invoice, amount=Decimal("10.00"))
        events = list(WebhookDelivery.objects.values_list("event", "dedupe_key"))
    assert events == [("task.created", f"task:{task.pk}")]  # no subscription to payments


def test_private_addresses_are_refused(tenant_a, owner, login, settings, receiver):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    page = login(owner).post(
        "/settings/webhooks/", {"url": receiver.url + "/x", "events": ["payment.received"]}
    )
    assert page.status_code == 200 and "url" in page.context["form"].errors
    with scope(tenant=tenant_a):
        assert not WebhookEndpoint.objects.exists()
    # An endpoint saved while allowed is not called once it is not.
    endpoint = endpoint_for(tenant_a, receiver, "task.created")

    invoice = InvoiceFactory(
        tenant=tenant_a, due_date=tenant_today(tenant=tenant_a), amount="10.00"
    )
    with scope(tenant=tenant_a):
        followup_task_create(
            tenant=tenant_a, customer_id=invoice.customer_id, title="x", origin="step"
        )
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    webhook_deliver.apply(kwargs={"delivery_id": delivery.pk})
    delivery.refresh_from_db()
    # The reason names the address (its wording is translated).
    assert delivery.status == DeliveryStatus.FAILED and "127.0.0.1" in delivery.last_error
    assert receiver.requests == []


def test_admins_manage_endpoints_and_see_the_log(tenant_a, owner, agent, login, receiver):
    assert login(agent).get("/settings/webhooks/").status_code == 403
    client = login(owner)
    created = client.post(
        "/settings/webhooks/",
        {"url": receiver.url + "/in", "events": ["task.created", "payment.received"]},
    )
    assert "data-new-secret" in created.content.decode()
    with scope(tenant=tenant_a):
        endpoint = WebhookEndpoint.objects.get()
    secret = endpoint.secret
    client.post(f"/settings/webhooks/{endpoint.pk}/", {"do": "rotate"})
    client.post(f"/settings/webhooks/{endpoint.pk}/", {"do": "toggle"})
    endpoint.refresh_from_db()
    assert endpoint.secret != secret and not endpoint.active
    client.post(f"/settings/webhooks/{endpoint.pk}/", {"do": "toggle"})
    receiver.answer = Answer(500, {})

    invoice = InvoiceFactory(
        tenant=tenant_a, due_date=tenant_today(tenant=tenant_a), amount="10.00"
    )
    with scope(tenant=tenant_a):
        followup_task_create(
            tenant=tenant_a, customer_id=invoice.customer_id, title="x", origin="step"
        )
        delivery = WebhookDelivery.objects.get()
    webhook_deliver.apply(kwargs={"delivery_id": delivery.pk})
    log = client.get("/settings/webhooks/").content.decode()
    assert f'data-delivery="{delivery.pk}"' in log and "HTTP 500" in log
    receiver.answer = Answer(200, {})
    with scopes_disabled():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED)
    client.post(f"/settings/webhooks/deliveries/{delivery.pk}/redeliver/")
    webhook_deliver.apply(kwargs={"delivery_id": delivery.pk})
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
