"""Invariant 1 on every route: each API route and dashboard URL that names an object is asked
for tenant B's object by tenant A (API key for the API, the owner's session for the pages), with
every method the route accepts. Each answer is a 404 (a page's view may refuse a method with
405 before it reads anything) and nothing of tenant B's changes. The routes come from the
resolver, so a new one is walked at once: it must be named below, covered or exempt with the
reason, or the first test fails."""

import json
from collections.abc import Callable
from datetime import timedelta
from functools import cached_property

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_scopes import scope, scopes_disabled

from collections_app.engine import ladder_evaluate
from collections_app.imports.jobs import import_job_create
from collections_app.models import (
    BankCredit,
    BankStatement,
    CreditStatus,
    FollowUpTask,
    Interaction,
    Ladder,
    PaymentClaim,
    WebhookDelivery,
    WebhookEvent,
)
from collections_app.payments.agreements import agreement_create
from messaging.models import Message
from tenants.models import Membership, Role, Tenant, TenantHoliday
from tenants.selectors import tenant_today
from tenants.services import api_key_create
from tests.collections_app.factories import (
    InvoiceFactory,
    PaymentFactory,
    SegmentFactory,
    WebhookEndpointFactory,
    customer_of,
)
from tests.messaging.factories import ProviderAccountFactory, TemplateFactory

pytestmark = pytest.mark.django_db

Kwargs = Callable[["TenantBObjects"], dict]


def pk(kind: str, **extra) -> Kwargs:
    """The route's `pk` is tenant B's object of that kind (with any other kwargs given)."""
    return lambda b: {"pk": getattr(b, kind).pk, **extra}


def step_of_ladder(b: "TenantBObjects") -> dict:
    return {"pk": b.ladder.pk, "step_pk": b.step.pk}


INVOICE_ACTIONS = ("call", "note", "promise", "pause", "resume", "message")
CUSTOMER_ACTIONS = ("call", "note", "pause", "resume")

# Route name → the kwargs naming tenant B's object (one entry per case).
COVERED: dict[str, list[Kwargs]] = {
    # The REST API
    "customer-detail": [pk("customer")],
    "invoice-detail": [pk("invoice")],
    "invoice-revoke-link": [pk("invoice")],
    "invoice-dispute": [pk("invoice")],
    "api-invoice-explain": [pk("invoice")],
    "payment-detail": [pk("payment")],
    "agreement-detail": [pk("agreement")],
    "agreement-break-": [pk("agreement")],
    "message-detail": [pk("message")],
    "interaction-detail": [pk("interaction")],
    "task-detail": [pk("task")],
    "ladder-detail": [pk("ladder")],
    "segment-detail": [pk("segment")],
    "template-detail": [pk("template")],
    "provider-account-detail": [pk("provider_account")],
    "webhook-endpoint-detail": [pk("webhook_endpoint")],
    "webhook-endpoint-deliveries": [pk("webhook_endpoint")],
    "webhook-endpoint-ping": [pk("webhook_endpoint")],
    "webhook-endpoint-rotate-secret": [pk("webhook_endpoint")],
    "webhook-delivery-detail": [pk("webhook_delivery")],
    "webhook-delivery-resend": [pk("webhook_delivery")],
    # Settings
    "settings_member": [pk("membership")],
    "settings_member_resend": [pk("membership")],
    "settings_api_key_revoke": [pk("api_key")],
    "settings_holiday_delete": [pk("holiday")],
    "settings_webhook": [pk("webhook_endpoint")],
    "settings_webhook_redeliver": [pk("webhook_delivery")],
    "config_template_edit": [pk("template")],
    "config_provider_edit": [pk("provider_account")],
    "config_provider_test": [pk("provider_account")],
    "message_resolve": [pk("message")],
    "config_ladder": [pk("ladder")],
    "config_step_new": [pk("ladder")],
    "config_ladder_preview": [pk("ladder")],
    "config_step": [step_of_ladder],
    "config_step_edit": [step_of_ladder],
    "config_segment": [pk("segment")],
    # The dashboard
    "invoice_detail": [pk("invoice")],
    "invoice_payment": [pk("invoice")],
    "invoice_message_preview": [pk("invoice")],
    "invoice_agreement": [pk("invoice")],
    "invoice_action": [pk("invoice", action=action) for action in INVOICE_ACTIONS],
    "customer_detail": [pk("customer")],
    "customer_export": [pk("customer")],
    "customer_erase": [pk("customer")],
    "customer_action": [pk("customer", action=action) for action in CUSTOMER_ACTIONS],
    "task_done": [pk("task")],
    "import_detail": [pk("import_job")],
    "import_preview": [pk("import_job")],
    "import_status": [pk("import_job")],
    "import_errors": [pk("import_job")],
    "bank_credit": [pk("bank_credit")],
    "bank_statement": [pk("bank_statement")],
    "payment_claim_proof": [pk("payment_claim")],
}

NO_ID = "names no object: what it lists or creates is the requester's tenant's"
PUBLIC_TOKEN = (
    "public by design: the signed token is the debtor's credential, whoever holds the link "
    "(tampered and revoked tokens: tests/collections_app/payments/test_payment_page.py)"
)
PROVIDER_WEBHOOK = (
    "a provider's callback: the tenant slug is checked against the provider's signature "
    "(tests/messaging/test_webhooks.py, tests/collections_app/payments/ payment webhook tests)"
)
ACCOUNT_TOKEN = (
    "an account's own signed, expiring link (invitation, password reset): the token is the "
    "credential and names one user (tests/tenants/test_accounts.py)"
)
EXEMPT: dict[str, str] = {
    **dict.fromkeys(
        [
            "healthz",
            "favicon",
            "login",
            "password_change",
            "password_change_done",
            "password_reset",
            "password_reset_done",
            "password_reset_complete",
            "logout",
            "tenant_choose",
            "set_language",
            "schema",
            "api_docs",
            "api-metrics",
            "api-recovery",
            "api-forecast",
            "customer-list",
            "invoice-list",
            "payment-list",
            "agreement-list",
            "message-list",
            "interaction-list",
            "task-list",
            "ladder-list",
            "segment-list",
            "template-list",
            "template-preview",
            "template-variables",
            "provider-account-list",
            "provider-account-test-send",
            "webhook-endpoint-list",
            "webhook-delivery-list",
            "api-root",
            "settings_team",
            "settings_api_keys",
            "settings",
            "settings_company",
            "settings_holiday_add",
            "settings_webhooks",
            "config_templates",
            "config_template_new",
            "config_template_preview",
            "config_providers",
            "config_provider_new",
            "message_problems",
            "config_ladders",
            "config_ladder_new",
            "config_segments",
            "config_segment_new",
            "config_segment_count",
            "dashboard",
            "invoice_list",
            "customer_list",
            "export_invoices",
            "export_interactions",
            "task_list",
            "reply_list",
            "imports",
            "import_template",
            "bank",
        ],
        NO_ID,
    ),
    **dict.fromkeys(
        [
            "payment_page",
            "payment_claim",
            "payment_promise",
            "payment_instalments",
            "payment_opt_out",
            "payment_identify",
            "unsubscribe",
        ],
        PUBLIC_TOKEN,
    ),
    **dict.fromkeys(["invite_accept", "password_reset_confirm"], ACCOUNT_TOKEN),
    "metrics": "the operators' counts of every tenant's messages, names no tenant or object; "
    "behind METRICS_TOKEN (tests/messaging/test_message_problems.py)",
    # Ids in the POST body: the batch is refused when one is another tenant's
    # (tests/collections_app/web/test_queue_and_customers.py).
    "invoice_bulk": "takes the selected invoices' ids in its body; another tenant's are refused",
    **dict.fromkeys(
        [
            "webhook_payments",
            "webhook_twilio_status",
            "webhook_twilio_inbound",
            "webhook_sendgrid_events",
        ],
        PROVIDER_WEBHOOK,
    ),
}
# Whole trees left out of the walk, with the reason.
EXEMPT_PREFIXES = {
    "admin/": "the operators' Django admin: staff only, no tenant "
    "(tests/config/test_admin_and_secrets.py)",
}


def routes() -> dict[str, tuple[str, object]]:
    """Every named route of the URLconf, walking includes: name → (route, view). DRF's format
    suffix variants (`.json`) are left out: they resolve to the same view as their route."""
    found = {}

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                if any(route.startswith(p) for p in EXEMPT_PREFIXES):
                    continue
                if "format" in pattern.pattern.regex.groupindex:
                    continue
                found.setdefault(pattern.name or route, (route, pattern.callback))

    walk(get_resolver().url_patterns, "")
    return found


ROUTES = routes()
METHODS = ("get", "post", "put", "patch", "delete")


def methods_of(view) -> tuple[list[str], bool]:
    """The methods a view declares, and whether they are known (DRF views say which they take;
    a plain Django view is tried with GET and POST, either may answer 405)."""
    if getattr(view, "actions", None):
        # DRF adds `head` to a viewset's actions at its first request: HEAD is GET's twin.
        return [m for m in METHODS if m in view.actions], True
    view_class = getattr(view, "cls", None) or getattr(view, "view_class", None)
    if view_class is not None:
        return [m for m in METHODS if hasattr(view_class, m)], True
    return ["get", "post"], False


class TenantBObjects:
    """Tenant B's objects, each built the first time a case asks for it."""

    def __init__(self, tenant: Tenant):
        self.tenant = tenant
        self.today = tenant_today(tenant=tenant)

    @cached_property
    def invoice(self):
        return InvoiceFactory(tenant=self.tenant, due_date=self.today - timedelta(days=15))

    @cached_property
    def customer(self):
        return customer_of(self.invoice)

    @cached_property
    def payment(self):
        return PaymentFactory(invoice=InvoiceFactory(tenant=self.tenant, due_date=self.today))

    @cached_property
    def evaluated(self) -> None:
        """The daily evaluation run for B's overdue invoice: messages, a task, interactions."""
        self.invoice  # noqa: B018 - built first, so the evaluation has it (a call task)
        InvoiceFactory(tenant=self.tenant, due_date=self.today)  # and a reminder due today
        with scope(tenant=self.tenant):
            ladder_evaluate(tenant=self.tenant, today=self.today)

    def _first(self, model):
        self.evaluated  # noqa: B018
        with scopes_disabled():
            found = model.objects.filter(tenant=self.tenant).order_by("pk").first()
        assert found is not None, f"tenant B has no {model.__name__} to ask for"
        return found

    @cached_property
    def message(self):
        return self._first(Message)

    @cached_property
    def interaction(self):
        return self._first(Interaction)

    @cached_property
    def task(self):
        return self._first(FollowUpTask)

    @cached_property
    def ladder(self):
        with scopes_disabled():
            return Ladder.objects.get(tenant=self.tenant, is_default=True)

    @cached_property
    def step(self):
        with scopes_disabled():
            return self.ladder.steps.order_by("pk").first()

    @cached_property
    def segment(self):
        return SegmentFactory(ladder=self.ladder)

    @cached_property
    def template(self):
        return TemplateFactory(tenant=self.tenant)

    @cached_property
    def provider_account(self):
        return ProviderAccountFactory(tenant=self.tenant)

    @cached_property
    def webhook_endpoint(self):
        return WebhookEndpointFactory(tenant=self.tenant)

    @cached_property
    def webhook_delivery(self):
        with scopes_disabled():
            return WebhookDelivery.objects.create(
                tenant=self.tenant,
                endpoint=self.webhook_endpoint,
                event=WebhookEvent.PAYMENT_RECEIVED,
                dedupe_key="b-delivery",
                payload={"event": WebhookEvent.PAYMENT_RECEIVED.value},
            )

    @cached_property
    def agreement(self):
        invoice = InvoiceFactory(tenant=self.tenant, due_date=self.today - timedelta(days=5))
        with scope(tenant=self.tenant):
            return agreement_create(
                tenant=self.tenant,
                customer=customer_of(invoice),
                invoices=[invoice],
                instalments=2,
                first_due_date=self.today + timedelta(days=10),
                today=self.today,
            )

    @cached_property
    def import_job(self):
        with scope(tenant=self.tenant):
            job = import_job_create(
                tenant=self.tenant,
                filename="b.csv",
                content=b"fatura;cliente;valor;vencimento\nB-1;Cliente B;10,00;01/12/2026\n",
            )
            job.errors_report = "linha;erro\n2;valor inválido\n"  # so its report exists
            job.save(update_fields=["errors_report"])
        return job

    @cached_property
    def bank_statement(self):
        with scopes_disabled():
            return BankStatement.objects.create(tenant=self.tenant, kind="ofx", filename="b.ofx")

    @cached_property
    def bank_credit(self):
        with scopes_disabled():
            return BankCredit.objects.create(
                tenant=self.tenant,
                statement=self.bank_statement,
                key="b-credit",
                amount="10.00",
                credited_on=self.today,
                status=CreditStatus.UNMATCHED,
            )

    @cached_property
    def payment_claim(self):
        with scopes_disabled():
            claim = PaymentClaim(tenant=self.tenant, invoice=self.invoice, proof_name="b.pdf")
            claim.proof.save("b.pdf", ContentFile(b"%PDF-1.4 comprovante de B"))
        return claim

    @cached_property
    def holiday(self):
        return TenantHoliday.objects.create(
            tenant=self.tenant, date=self.today + timedelta(days=40), name="Feriado de B"
        )

    @cached_property
    def membership(self):
        return Membership.objects.filter(tenant=self.tenant, role=Role.OWNER).order_by("pk").first()

    @cached_property
    def api_key(self):
        key, _raw = api_key_create(tenant=self.tenant)
        return key


def tenant_rows(tenant: Tenant) -> dict[str, list[dict]]:
    """Every row of the tenant's, in every model that has a tenant, with every field."""
    rows = {"tenant": list(Tenant.objects.filter(pk=tenant.pk).values())}
    with scopes_disabled():
        for model in apps.get_models():
            field = next((f for f in model._meta.concrete_fields if f.name == "tenant"), None)
            if field is not None and field.related_model is Tenant:
                rows[model._meta.label] = list(
                    model._base_manager.filter(tenant=tenant).order_by("pk").values()
                )
    return rows


def test_every_route_is_covered_or_exempt():
    uncovered = sorted(set(ROUTES) - set(COVERED) - set(EXEMPT))
    assert uncovered == [], (
        "new route not covered: name it in COVERED (with tenant B's object) or in EXEMPT "
        "(with the reason):\n" + "\n".join(f"{name}: {ROUTES[name][0]}" for name in uncovered)
    )
    stale = sorted((set(COVERED) | set(EXEMPT)) - set(ROUTES) - {"api-root", "set_language"})
    assert stale == [], f"named here but no longer routes: {stale}"
    assert not set(COVERED) & set(EXEMPT)


def test_every_route_with_an_id_is_covered():
    """A route naming an object (pk, id, token, slug) may be exempt only for a reason other
    than having no id."""
    with_ids = {name for name, (route, _view) in ROUTES.items() if "<" in route or "(?P<" in route}
    assert sorted(name for name in with_ids if EXEMPT.get(name) == NO_ID) == []


CASES = [
    pytest.param(name, kwargs, id=f"{name}-{index}" if len(builders) > 1 else name)
    for name, builders in COVERED.items()
    for index, kwargs in enumerate(builders)
]


@pytest.mark.parametrize("name, kwargs", CASES)
def test_another_tenants_object_is_a_404_and_stays_as_it_was(
    name, kwargs, tenant_a, tenant_b, owner, api_a, login, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path  # B's proof of payment is a file
    assert name in ROUTES, f"{name} is not a route any more"
    route, view = ROUTES[name]
    b = TenantBObjects(tenant_b)
    url = reverse(name, kwargs=kwargs(b))
    before = tenant_rows(tenant_b)
    is_api = route.startswith("api/")
    client = api_a if is_api else login(owner)
    methods, declared = methods_of(view)
    answers = {}
    for method in methods:
        send = getattr(client, method)
        if method == "get" or method == "delete":
            answers[method] = send(url).status_code
        elif is_api:
            answers[method] = send(url, json.dumps({}), content_type="application/json").status_code
        else:
            answers[method] = send(url, {}).status_code
    allowed = {404} if declared else {404, 405}
    refused = {method: status for method, status in answers.items() if status not in allowed}
    assert refused == {}, f"{url} answered tenant A with {answers}"
    assert 404 in answers.values(), f"{url} answered tenant A with {answers}"
    assert tenant_rows(tenant_b) == before, f"{url} changed tenant B's rows"
