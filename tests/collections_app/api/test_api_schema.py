"""The REST API against its own OpenAPI schema (drf-spectacular), with schemathesis.

Every operation under /api/v1/ gets a small, fixed set of generated requests (valid and
invalid ones), sent to the Django app in-process through WSGI, authenticated with a real API
key of a tenant that has data. Each answer must not be a 5xx and must match the schema: a
documented status code, content type and body. The seed is fixed and generation deterministic,
so a failure in CI reproduces locally with the same command."""

import json
import uuid
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django_scopes import scope
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import tenants.api_auth
from collections_app.api.customers import CustomerViewSet
from collections_app.engine import ladder_evaluate
from collections_app.models import (
    DeliveryStatus,
    FollowUpTask,
    Interaction,
    Ladder,
    Segment,
    WebhookDelivery,
    WebhookEndpoint,
)
from collections_app.payments.agreements import agreement_create
from collections_app.payments.services import invoice_record_payment
from messaging.models import Message, ProviderAccount, Template
from tenants.api_auth import ApiKeyRateThrottle
from tenants.idempotency import HEADER as IDEMPOTENCY_KEY
from tenants.idempotency import MAX_KEY_LENGTH
from tenants.selectors import tenant_today
from tenants.services import api_key_create
from tests.clock import on_the_suite_day
from tests.collections_app.factories import InvoiceFactory

# Examples per operation in the fuzzing phase; the examples and coverage phases add their own
# (boundary values, missing or wrongly typed fields). Enough to catch a 500 on bad input, small
# enough for CI.
MAX_EXAMPLES = 8

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20261202,
        "generation": {
            "deterministic": True,
            "database": "none",
            "max-examples": MAX_EXAMPLES,
            # The test sends a real API key; a generated Authorization header would only be
            # refused.
            "with-security-parameters": False,
        },
    }
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db,
    on_the_suite_day,  # `objects` needs an invoice due today to get its D0 reminder today
]

schema = schemathesis.openapi.from_wsgi(
    "/api/schema/", get_wsgi_application(), config=CONFIG
).include(path_regex=r"^/api/v1/")


@pytest.fixture(autouse=True)
def _no_rate_limit(monkeypatch):
    """Hundreds of requests a minute from one key: past the rate limit they would all be 429s,
    documented and so passing, and the test would check nothing."""
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "1000000/min"})


@pytest.fixture
def api_headers(tenant_a):
    _key, raw = api_key_create(tenant=tenant_a)
    return {"Authorization": f"Api-Key {raw}"}


@pytest.fixture(autouse=True)
def _console_only(settings, outbox):
    """Whatever the environment says, messages (a payment's thank-you, the provider test) go to
    the console provider and a private outbox file: nothing leaves the machine."""
    settings.MESSAGING_DEFAULT_PROVIDERS = {
        "email": "console",
        "sms": "console",
        "whatsapp": "console",
    }


@pytest.fixture
def objects(tenant_a):
    """One real object per resource, by the URL segment that names it, so the operations on
    `{id}` also run against something that exists (and not only a 404)."""
    today = tenant_today(tenant=tenant_a)
    due_today = InvoiceFactory(tenant=tenant_a, due_date=today)
    overdue = InvoiceFactory(tenant=tenant_a, due_date=today - timedelta(days=10))
    other = InvoiceFactory(tenant=tenant_a, due_date=today - timedelta(days=5))
    with scope(tenant=tenant_a):
        ladder_evaluate(tenant=tenant_a, today=today)  # reminders, hence messages
        payment, _created = invoice_record_payment(
            tenant=tenant_a, invoice=overdue, amount=Decimal("100.00")
        )
        agreement = agreement_create(
            tenant=tenant_a,
            customer=other.customer,
            invoices=[other],
            instalments=2,
            first_due_date=today + timedelta(days=5),
            today=today,
        )
        ladder = Ladder.objects.get(is_default=True)
        segment = Segment.objects.create(
            tenant=tenant_a, name="VIP", ladder=ladder, rule={"kind": "tag", "value": "vip"}
        )
        task = FollowUpTask.objects.create(
            tenant=tenant_a,
            customer=overdue.customer,
            invoice=overdue,
            title="Ligar",
            due_on=today,
        )
        # The tenant's own e-mail account: the console, like the platform's default above.
        account = ProviderAccount(tenant=tenant_a, channel="email", provider="console")
        account.credentials = {}
        account.save()
        # A receiver that refuses the connection at once (the discard port on loopback): pings,
        # resends and payment events are tried, fail fast, and nothing leaves the machine.
        endpoint = WebhookEndpoint.objects.create(
            tenant=tenant_a, url="http://127.0.0.1:9/hooks", events=["payment.received"]
        )
        delivery = WebhookDelivery.objects.create(
            tenant=tenant_a,
            endpoint=endpoint,
            event="payment.received",
            dedupe_key="payment:0",
            payload={"event": "payment.received", "data": {}},
            status=DeliveryStatus.FAILED,
            attempts=8,
            last_status_code=503,
        )
        return {
            "customers": due_today.customer_id,
            "invoices": due_today.pk,
            "payments": payment.pk,
            "agreements": agreement.pk,
            "messages": Message.objects.order_by("id").values_list("id", flat=True)[0],
            "interactions": Interaction.objects.order_by("id").values_list("id", flat=True)[0],
            "tasks": task.pk,
            "ladders": ladder.pk,
            "segments": segment.pk,
            "templates": Template.objects.order_by("id").values_list("id", flat=True)[0],
            "provider-accounts": account.pk,
            "webhook-endpoints": endpoint.pk,
            "webhook-deliveries": delivery.pk,
        }


# transaction=True: schemathesis calls the WSGI app itself, and Django closes the database
# connection when a request ends (request_finished); inside the test's transaction that closes
# the transaction too. Django's test Client disconnects that handler, schemathesis does not.
@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_schema(case, api_headers, objects):
    fresh_idempotency_key(case)
    generated_id = (case.path_parameters or {}).get("id")
    if generated_id is None:
        case.call_and_validate(headers=api_headers, checks=CHECKS)
        return
    real_id = objects[case.path.split("/")[3]]
    if case.method == "GET":
        # Reads are cheap: the generated id (a 404, or an invalid id) and the real object.
        case.call_and_validate(headers=api_headers, checks=CHECKS)
        case.path_parameters["id"] = real_id
    elif isinstance(generated_id, int) and not isinstance(generated_id, bool):
        # A write with a valid id goes to the real object, where the body is checked against
        # the data it would change; a write with an invalid id (a float, a text) is sent as
        # generated.
        case.path_parameters["id"] = real_id
    case.call_and_validate(headers=api_headers, checks=CHECKS)


def fresh_idempotency_key(case) -> None:
    """Every POST documents an optional Idempotency-Key, and the generator sends it with few
    distinct values ("0", "000…"): reused with another body, each would get the middleware's
    422 and never reach the view under test. A fresh key per request keeps it going to the
    view, through the middleware's keep-the-answer path; a key over the limit is sent as
    generated, for the middleware's 400. (Replays, 409 and 422: test_api_idempotency.py, beside
    this file.)"""
    key = (case.headers or {}).get(IDEMPOTENCY_KEY)
    if key is not None and len(key) <= MAX_KEY_LENGTH:
        case.headers[IDEMPOTENCY_KEY] = uuid.uuid4().hex


# What the schema test found (and what was found around it), pinned with plain requests.


def send(api, method, path, data=None):
    body = {} if data is None else {"data": json.dumps(data), "content_type": "application/json"}
    return getattr(api, method)(path, **body)


def invoice_item(ext="NF-1", **overrides):
    return {
        "external_id": ext,
        "amount": "100.00",
        "issue_date": "2026-11-01",
        "due_date": "2026-12-01",
        "customer": {"external_id": "C-1", "name": "Maria Souza"},
        **overrides,
    }


def test_an_api_url_nothing_answers_is_a_json_404(api_a):
    response = api_a.get("/api/v1/invoices/1.5/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


@pytest.mark.parametrize("external_id", [{}, ["x"], "NF\x00"])
def test_an_external_id_that_is_not_text_is_a_400_per_item(api_a, external_id):
    items = [invoice_item(), invoice_item(ext=external_id)]
    response = send(api_a, "post", "/api/v1/invoices/", items)
    assert response.status_code == 400
    errors = response.json()
    assert errors[0] == {} and "external_id" in errors[1]
    nested = [invoice_item(customer={"external_id": external_id, "name": "X"})]
    response = send(api_a, "post", "/api/v1/invoices/", nested)
    assert response.status_code == 400
    assert "external_id" in response.json()[0]["customer"]


@pytest.mark.parametrize("method", ["put", "patch"])
def test_put_or_patch_cannot_move_an_invoice_to_another_external_id(api_a, method):
    created = send(api_a, "post", "/api/v1/invoices/", invoice_item()).json()
    response = send(api_a, method, f"/api/v1/invoices/{created['id']}/", invoice_item(ext="NF-2"))
    assert response.status_code == 400
    assert "NF-1" in response.json()["external_id"][0]
    listed = api_a.get("/api/v1/invoices/").json()
    assert [i["external_id"] for i in listed["results"]] == ["NF-1"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/metrics/?from=0001-01-01&to=0001-01-05",
        "/api/v1/metrics/recovery/?from=9999-12-01&to=9999-12-31",
        "/api/v1/forecast/?start=9999-12-31",
    ],
)
def test_dates_outside_the_api_range_are_a_400(api_a, path):
    response = api_a.get(path)
    assert response.status_code == 400
    assert "1900-01-01" in str(response.json())


def test_an_invoice_or_agreement_date_outside_the_range_is_refused(api_a):
    response = send(api_a, "post", "/api/v1/invoices/", invoice_item(due_date="9999-12-31"))
    assert response.status_code == 400 and "due_date" in response.json()
    agreement = {
        "customer": "C-1",
        "invoices": ["NF-1"],
        "instalment_count": 60,
        "first_due_date": "9999-12-01",
    }
    response = send(api_a, "post", "/api/v1/agreements/", agreement)
    assert response.status_code == 400 and "first_due_date" in response.json()


@pytest.mark.parametrize(
    "query", ["segment=²", "segment=99999999999999999999", "external_id=%00", "status=a%00"]
)
def test_invoice_filters_refuse_what_the_database_cannot_take(api_a, query):
    response = api_a.get(f"/api/v1/invoices/?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()


def test_a_segment_rule_keeps_a_real_amount_and_nothing_else(api_a, tenant_a):
    with scope(tenant=tenant_a):
        ladder = Ladder.objects.get(is_default=True).pk
    for value in ["Infinity", "1e999999", "-1"]:
        rule = {"kind": "amount_at_least", "value": value}
        response = send(
            api_a, "post", "/api/v1/segments/", {"name": "S", "rule": rule, "ladder": ladder}
        )
        assert response.status_code == 400, value
    rule = {"kind": "tag", "value": "vip", "extra": "\x00"}
    response = send(
        api_a, "post", "/api/v1/segments/", {"name": "S", "rule": rule, "ladder": ladder}
    )
    assert response.status_code == 201
    assert response.json()["rule"] == {"kind": "tag", "value": "vip"}


def test_an_error_inside_an_api_view_closes_the_tenant_scope(api_a, monkeypatch):
    """A view that raises skips DRF's finalize_response; the scope the API key opened must be
    closed all the same, not left for the garbage collector to close at some later moment."""

    opened, closed = [], []
    real_scope = tenants.api_auth.scope

    @contextmanager
    def tracked_scope(**kwargs):
        opened.append(kwargs)
        with real_scope(**kwargs):
            yield
        closed.append(kwargs)

    def broken(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(tenants.api_auth, "scope", tracked_scope)
    monkeypatch.setattr(CustomerViewSet, "tenant_queryset", broken)
    api_a.raise_request_exception = False
    assert api_a.get("/api/v1/customers/").status_code == 500
    assert len(opened) == 1 and closed == opened
