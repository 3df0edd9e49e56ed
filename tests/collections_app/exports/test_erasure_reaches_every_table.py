"""Erasing a customer reaches every table that can hold their name, CPF, e-mail and phone: the
test fills each through the product's own paths (the API with an Idempotency-Key, a spreadsheet
import, a bank file, outbound webhooks, the payment page, messages sent by the console
provider), erases through the page, then reads every row of every model and every file the
product stored, and finds none of them."""

import json
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_scopes import scope, scopes_disabled

from collections_app.engine import ladder_evaluate
from collections_app.models import (
    BankCredit,
    Customer,
    ImportJob,
    ImportStatus,
    Invoice,
    PaymentClaim,
    WebhookDelivery,
    WebhookEvent,
)
from collections_app.payments.reconciliation import bank_statement_import
from messaging.delivery import message_status_report
from messaging.models import Message
from tenants.models import IdempotentRequest
from tenants.selectors import tenant_today
from tests.clock import on_the_suite_day
from tests.collections_app.factories import InvoiceFactory, WebhookEndpointFactory
from tests.collections_app.imports.test_import import HEADER
from tests.collections_app.imports.test_import_ui import form, uploaded
from tests.collections_app.payments.test_bank_reconciliation import ofx

pytestmark = [pytest.mark.django_db, on_the_suite_day]

NAME = "Maria Conceição Souza"
CPF = "52998224725"
CPF_FORMATTED = "529.982.247-25"
EMAIL = "maria.souza@example.com"
PHONE = "+5511987654321"
# What must not be found anywhere, compared in lower case.
IDENTIFIERS = [
    NAME.lower(),
    "maria conceicao souza",
    CPF,
    CPF_FORMATTED,
    EMAIL,
    "5511987654321",
    "11987654321",
    "98765-4321",
]


def csv_rows(today) -> bytes:
    due = today.strftime("%d/%m/%Y")
    person = f"C-1;{NAME};{CPF_FORMATTED};{EMAIL};(11) 98765-4321"
    lines = [
        HEADER,
        f"F-1;NF-1;320,00;02/11/2026;{due};{person}",
        f"F-2;NF-2;abc;02/11/2026;{due};{person}",
    ]
    return ("\n".join(lines) + "\n").encode()


def database_text() -> str:
    """Every row of every model, as text (binary columns decoded)."""

    def plain(value):
        if isinstance(value, memoryview | bytes):
            return bytes(value).decode("utf-8", "replace")
        return str(value)

    dumped = []
    with scopes_disabled():
        for model in apps.get_models():
            for row in model._base_manager.values():
                dumped.append(json.dumps(row, default=plain, ensure_ascii=False))
    return "\n".join(dumped)


def files_text(root: Path) -> str:
    return "\n".join(
        p.read_bytes().decode("utf-8", "replace") for p in root.rglob("*") if p.is_file()
    )


def found(text: str) -> list[str]:
    text = text.lower()
    return [identifier for identifier in IDENTIFIERS if identifier in text]


@pytest.fixture
def filled(
    tenant_a,
    agent,
    api_a,
    login,
    outbox,
    tmp_path,
    start,
    settings,
    django_capture_on_commit_callbacks,
):
    """Maria's data written everywhere the product writes it."""
    settings.MEDIA_ROOT = tmp_path / "media"
    today = tenant_today(tenant=tenant_a)
    with scope(tenant=tenant_a):
        WebhookEndpointFactory(tenant=tenant_a, events=list(WebhookEvent.values))
    # The API, with a kept answer for retries.
    created = api_a.post(
        "/api/v1/customers/",
        json.dumps({"external_id": "C-1", "name": NAME, "document": CPF_FORMATTED, "email": EMAIL}),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="create-maria",
    )
    assert created.status_code == 201
    # A spreadsheet: the valid row imported, the bad one in the error report; and the same
    # file uploaded again and left waiting for its mapping (its file and sample kept).
    client = login(agent)
    job = uploaded(client, csv_rows(today))
    started = start(client, job, form(job, mode="valid_only", date_format="dmy"))
    assert started.status_code == 302, started.content.decode()[-3000:]
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and job.rows_with_errors == 1
    waiting = uploaded(client, csv_rows(today))
    with scope(tenant=tenant_a):
        invoice = Invoice.objects.get(external_id="F-1")
        assert invoice.customer.phone == PHONE
    # Reminders sent by the console provider; one reported failed, which goes to the webhooks.
    with scope(tenant=tenant_a), django_capture_on_commit_callbacks(execute=True):
        ladder_evaluate(tenant=tenant_a, today=today)
    with scope(tenant=tenant_a):
        sent = Message.objects.filter(status="sent")
        assert sent.exists()
        message_status_report(
            tenant=tenant_a, status="failed", ref=sent[0].ref, error=f"{EMAIL}: mailbox full"
        )
    # The payment page: "I have paid", with a note and a proof.
    proof = SimpleUploadedFile(f"comprovante {NAME}.pdf", b"%PDF-1.4 receipt", "application/pdf")
    note = f"Sou {NAME}, CPF {CPF_FORMATTED}, paguei"
    paid = Client().post(f"/p/{invoice.payment_token}/paid", {"note": note, "proof": proof})
    assert paid.status_code == 302
    # A bank file: one credit of hers matched, one with her name left for review.
    statement = ofx(
        ("T-1", "320.00", "20261201", f"PIX RECEBIDO {NAME.upper()} {CPF_FORMATTED}"),
        ("T-2", "7.77", "20261201", f"PIX {NAME} 11 98765-4321"),
    )
    with scope(tenant=tenant_a):
        bank_statement_import(tenant=tenant_a, filename="extrato.ofx", content=statement)
    with scope(tenant=tenant_a):
        assert BankCredit.objects.count() == 2
        assert PaymentClaim.objects.filter(invoice=invoice).exclude(proof="").exists()
        assert WebhookDelivery.objects.filter(event=WebhookEvent.MESSAGE_FAILED).exists()
    assert IdempotentRequest.objects.exists()
    everywhere = database_text() + files_text(settings.MEDIA_ROOT)
    assert set(found(everywhere)) == set(IDENTIFIERS) - {"maria conceicao souza"}
    return invoice, waiting


def test_erasure_leaves_no_identifier_in_any_table_or_stored_file(tenant_a, owner, login, filled):
    invoice, waiting = filled
    answer = login(owner).post(f"/customers/{invoice.customer_id}/erase/", {"confirm": "yes"})
    assert answer.status_code == 302

    assert found(database_text()) == []
    assert found(files_text(settings.MEDIA_ROOT)) == []
    with scope(tenant=tenant_a):
        # The money stays, and the waiting import must be uploaded again.
        assert Invoice.objects.get(pk=invoice.pk).amount_paid > 0
        assert Customer.objects.get(pk=invoice.customer_id).external_id == "C-1"
        assert not ImportJob.objects.get(pk=waiting.pk).file


def test_erasure_keeps_what_does_not_mention_the_person(tenant_a, owner, login, filled):
    invoice, _waiting = filled
    with scope(tenant=tenant_a):
        other = WebhookDelivery.objects.filter(event=WebhookEvent.PAYMENT_RECEIVED).first()
    login(owner).post(f"/customers/{invoice.customer_id}/erase/", {"confirm": "yes"})
    with scope(tenant=tenant_a):
        assert WebhookDelivery.objects.get(pk=other.pk).payload == other.payload
        review = BankCredit.objects.get(amount="7.77")
    assert review.description == "PIX (apagado) (apagado)"


def test_erasure_leaves_another_tenants_rows_alone(tenant_a, tenant_b, owner, login):
    invoice = InvoiceFactory(
        tenant=tenant_a, customer={"external_id": "C-9", "name": NAME, "document": CPF}
    )
    payload = {"event": "task.created", "data": {"title": f"Ligar para {NAME}"}}
    deliveries = {}
    for tenant in (tenant_a, tenant_b):
        with scope(tenant=tenant):
            endpoint = WebhookEndpointFactory(tenant=tenant)
            deliveries[tenant.pk] = WebhookDelivery.objects.create(
                tenant=tenant,
                endpoint=endpoint,
                event="task.created",
                dedupe_key="t",
                payload=payload,
            )
    login(owner).post(f"/customers/{invoice.customer_id}/erase/", {"confirm": "yes"})
    with scopes_disabled():
        ours = WebhookDelivery.objects.get(pk=deliveries[tenant_a.pk].pk)
        theirs = WebhookDelivery.objects.get(pk=deliveries[tenant_b.pk].pk)
    assert ours.payload["data"]["title"] == "Ligar para (apagado)"
    assert theirs.payload == payload
