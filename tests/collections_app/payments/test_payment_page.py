"""The debtor's payment page: what it shows, what it hides, and each answer a debtor gives."""

import re
from datetime import timedelta
from decimal import Decimal
from html import unescape
from urllib.parse import urlparse

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_scopes import scope, scopes_disabled

from collections_app.calendar import BusinessCalendar
from collections_app.models import (
    Agreement,
    Customer,
    FollowUpTask,
    Interaction,
    Invoice,
    InvoiceStatus,
    PaymentClaim,
    PaymentPromise,
)
from collections_app.payments.pix import brcode_parse
from tenants.selectors import tenant_today
from tests.collections_app.factories import InvoiceFactory

pytestmark = pytest.mark.django_db

CPF = "52998224725"


@pytest.fixture
def debtor_tenant(tenant_a):
    tenant_a.pix_key = "12345678000195"
    tenant_a.merchant_name = "Escola Aurora"
    tenant_a.merchant_city = "São Paulo"
    tenant_a.save()
    return tenant_a


def overdue_invoice(tenant, days=10, amount="1000.00", document=CPF, **customer):
    """An invoice due about `days` ago and late today: a due date the bank calendar moves past
    today (a Saturday before Carnaval) is taken a day earlier until it is late."""
    today = tenant_today(tenant=tenant)
    calendar = BusinessCalendar.for_tenant(tenant)
    due = today - timedelta(days=days)
    while calendar.effective_due_date(due) >= today:
        due -= timedelta(days=1)
    return InvoiceFactory(
        tenant=tenant,
        due_date=due,
        amount=amount,
        customer={
            "external_id": customer.pop("external_id", "MARIA"),
            "name": "Maria Souza",
            "document": document,
            "email": "maria@example.com",
            "phone": "+5511987654321",
            **customer,
        },
    )


def page(client, invoice, **params):
    return client.get(f"/p/{invoice.payment_token}", params)


def pix_code(html: str) -> str:
    match = re.search(r"data-pix-code>([^<]+)<", html)
    assert match, "no element with data-pix-code"
    return unescape(match.group(1)).strip()


def timeline(tenant, invoice):
    with scope(tenant=tenant):
        return list(
            Interaction.objects.filter(invoice=invoice)
            .order_by("id")
            .values_list("kind", "summary")
        )


def test_an_overdue_invoice_shows_charges_apart_and_a_valid_pix_code(client, debtor_tenant):
    invoice = overdue_invoice(debtor_tenant, days=10)
    # The effective due date may move to the next business day: count from it.
    today = tenant_today(tenant=debtor_tenant)
    days = (today - invoice.effective_due_date).days
    response = page(client, invoice)
    html = response.content.decode()
    assert response.status_code == 200
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert '<meta name="robots" content="noindex, nofollow">' in html
    assert "Escola Aurora" in html and "Maria Souza" in html
    fine, interest = Decimal("20.00"), (Decimal("1000") / 100 / 30 * days).quantize(Decimal("0.01"))
    total = Decimal("1000.00") + fine + interest
    assert "R$ 20,00" in html  # 2 % fine, apart
    assert f"× {days} dias" in html or f"× {days} days" in html  # the day count is stated
    fields = brcode_parse(pix_code(html))
    assert fields["26.00"] == "br.gov.bcb.pix" and fields["26.01"] == "12345678000195"
    assert fields["54"] == f"{total:.2f}"
    assert fields["59"] == "Escola Aurora" and fields["60"] == "Sao Paulo"
    assert fields["62.05"] == invoice.pix_txid
    assert "<svg" in html  # the QR code, inline
    assert 'data-copy-target="pix-code"' in html


def test_the_page_speaks_portuguese_and_formats_money_and_dates(client, debtor_tenant):
    invoice = overdue_invoice(debtor_tenant, days=3)
    html = page(client, invoice).content.decode()
    assert "Olá, Maria Souza." in html
    assert "Vencida desde " + invoice.effective_due_date.strftime("%d/%m/%Y") in html
    assert "R$ 1.000,00" in html


def test_a_consumer_debt_is_capped_whatever_the_tenant_set(client, debtor_tenant):
    debtor_tenant.late_fine_percent = Decimal("10")
    debtor_tenant.save()
    consumer = overdue_invoice(debtor_tenant, external_id="CPF")
    business = overdue_invoice(debtor_tenant, external_id="CNPJ", document="12345678000195")
    assert "R$ 20,00" in page(client, consumer).content.decode()
    assert "R$ 100,00" in page(client, business).content.decode()


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (InvoiceStatus.PAID, "Esta fatura está paga"),
        (InvoiceStatus.CANCELLED, "foi cancelada"),
    ],
)
def test_a_settled_invoice_says_so_politely_and_offers_no_payment(
    client, debtor_tenant, status, text
):
    invoice = overdue_invoice(debtor_tenant)
    with scopes_disabled():
        Invoice.objects.filter(pk=invoice.pk).update(status=status)
    html = page(client, invoice).content.decode()
    assert text in html
    assert "data-pix-code" not in html and "Já paguei" not in html


def test_an_unknown_or_revoked_token_gets_the_polite_404(client, debtor_tenant):
    invoice = overdue_invoice(debtor_tenant)
    with scopes_disabled():
        Invoice.objects.filter(pk=invoice.pk).update(token_revoked=True)
    for token in (invoice.payment_token, "no-such-token"):
        response = client.get(f"/p/{token}")
        assert response.status_code == 404
        assert response["X-Robots-Tag"] == "noindex, nofollow"
        assert "Link indisponível" in response.content.decode()


def test_other_invoices_show_only_after_the_document_is_confirmed(client, debtor_tenant):
    invoice = overdue_invoice(debtor_tenant)
    other = overdue_invoice(debtor_tenant, days=40, amount="250.00")
    assert other.customer_id == invoice.customer_id
    html = page(client, invoice).content.decode()
    assert other.payment_token not in html and "R$ 250,00" not in html
    wrong = client.post(f"/p/{invoice.payment_token}/identify", {"document": "11111"}, follow=True)
    assert other.payment_token not in wrong.content.decode()
    assert "não confere" in wrong.content.decode()
    right = client.post(f"/p/{invoice.payment_token}/identify", {"document": "529.98"}, follow=True)
    assert other.payment_token in right.content.decode()
    # Another browser (the link forwarded) does not see them.
    assert other.payment_token not in page(Client(), invoice).content.decode()


def test_guessing_the_document_is_rate_limited(client, debtor_tenant):
    invoice = overdue_invoice(debtor_tenant)
    other = overdue_invoice(debtor_tenant, days=40, amount="250.00")
    url = f"/p/{invoice.payment_token}/identify"
    for _ in range(5):
        client.post(url, {"document": "00000"})
    blocked = client.post(url, {"document": "52998"}, follow=True).content.decode()
    assert "Muitas tentativas" in blocked and other.payment_token not in blocked


def test_too_many_page_views_from_one_address_get_429(client, debtor_tenant, settings):
    invoice = overdue_invoice(debtor_tenant)
    statuses = {page(client, invoice).status_code for _ in range(61)}
    assert statuses == {200, 429}


def test_behind_a_proxy_the_limit_counts_each_visitor_not_the_proxy(
    client, debtor_tenant, settings
):
    invoice = overdue_invoice(debtor_tenant)
    url = f"/p/{invoice.payment_token}"
    # With no proxy configured X-Forwarded-For is ignored: a visitor could forge it.
    forging = [client.get(url, HTTP_X_FORWARDED_FOR=f"192.0.2.{k}").status_code for k in range(61)]
    assert forging[60] == 429
    # Behind one proxy (the only REMOTE_ADDR, itself over the limit now), each visitor is the
    # entry the proxy appended; entries the visitor sent, to its left, change nothing.
    settings.TRUSTED_PROXY_COUNT = 1
    visitor = [
        client.get(url, HTTP_X_FORWARDED_FOR=f"10.9.9.{k}, 203.0.113.7").status_code
        for k in range(61)
    ]
    assert visitor[:60] == [200] * 60 and visitor[60] == 429
    assert client.get(url, HTTP_X_FORWARDED_FOR="198.51.100.4").status_code == 200


def claim_with_proof(client, debtor_tenant, settings) -> PaymentClaim:
    """ "Já paguei" with a PDF proof, checked as it lands; returns the claim."""
    settings.MEDIA_ROOT = settings.VAR_DIR / "test-media"
    invoice = overdue_invoice(debtor_tenant)
    proof = SimpleUploadedFile("comprovante.pdf", b"%PDF-1.4 receipt", "application/pdf")
    response = client.post(
        f"/p/{invoice.payment_token}/paid", {"note": "Paguei ontem no Pix", "proof": proof}
    )
    assert response.status_code == 302
    today = tenant_today(tenant=debtor_tenant)
    with scope(tenant=debtor_tenant):
        claim = PaymentClaim.objects.get(invoice=invoice)
        invoice.refresh_from_db()
        task = FollowUpTask.objects.get(origin="payment_claim")
    assert claim.proof_name == "comprovante.pdf" and claim.proof.read() == b"%PDF-1.4 receipt"
    assert claim.task == task and task.invoice_id == invoice.pk
    assert invoice.paused_until == today + timedelta(days=debtor_tenant.paid_claim_pause_days)
    assert (
        "payment_claim",
        "Cliente diz que já pagou (enviou comprovante): “Paguei ontem no "
        f"Pix” — lembretes pausados até {invoice.paused_until:%d/%m/%Y}",
    ) in timeline(debtor_tenant, invoice)
    assert "Estamos conferindo" in page(client, invoice).content.decode()
    return claim


def test_i_already_paid_with_a_proof_pauses_and_makes_a_task(client, debtor_tenant, settings):
    claim = claim_with_proof(client, debtor_tenant, settings)
    assert claim.proof


def test_the_team_opens_the_proof_and_outsiders_cannot(
    client, debtor_tenant, settings, login, viewer, outsider
):
    claim = claim_with_proof(client, debtor_tenant, settings)
    detail = login(viewer).get(f"/invoices/{claim.invoice_id}/").content.decode()
    assert f"/claims/{claim.pk}/proof/" in detail
    proof = login(viewer).get(f"/claims/{claim.pk}/proof/")
    assert proof.status_code == 200 and proof["Content-Type"] == "application/pdf"
    assert b"".join(proof.streaming_content) == b"%PDF-1.4 receipt"
    assert login(outsider).get(f"/claims/{claim.pk}/proof/").status_code == 404


def test_a_proof_that_is_not_a_document_is_refused_and_nothing_is_written(client, debtor_tenant):
    invoice = overdue_invoice(debtor_tenant)
    fake = SimpleUploadedFile("x.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")
    answer = client.post(f"/p/{invoice.payment_token}/paid", {"proof": fake}, follow=True)
    assert "PDF, PNG ou JPEG" in answer.content.decode()
    with scope(tenant=debtor_tenant):
        assert not PaymentClaim.objects.exists() and not FollowUpTask.objects.exists()


def test_i_need_more_time_records_a_promise_within_the_limit(client, debtor_tenant):
    invoice = overdue_invoice(debtor_tenant)
    today = tenant_today(tenant=debtor_tenant)
    too_far = today + timedelta(days=debtor_tenant.promise_max_days + 1)
    refused = client.post(
        f"/p/{invoice.payment_token}/promise", {"date": too_far.isoformat()}, follow=True
    )
    assert "no máximo" in refused.content.decode()
    promised = today + timedelta(days=5)
    client.post(f"/p/{invoice.payment_token}/promise", {"date": promised.isoformat()})
    with scope(tenant=debtor_tenant):
        promise = PaymentPromise.objects.get(invoice=invoice)
    assert promise.promised_date == promised and promise.source == "debtor"
    assert f"pagar até {promised:%d/%m/%Y}" in page(client, invoice).content.decode()


def test_self_service_instalments_make_an_agreement(client, debtor_tenant):
    invoice = overdue_invoice(debtor_tenant, amount="900.00")
    today = tenant_today(tenant=debtor_tenant)
    first_due = today + timedelta(days=10)
    response = client.post(
        f"/p/{invoice.payment_token}/instalments",
        {"count": "3", "first_due": first_due.isoformat()},
    )
    with scope(tenant=debtor_tenant):
        agreement = Agreement.objects.get()
        instalments = list(agreement.instalments.order_by("due_date"))
        invoice.refresh_from_db()
    assert agreement.source == "debtor" and agreement.instalment_count == 3
    assert invoice.status == InvoiceStatus.IN_AGREEMENT
    assert sum(i.amount for i in instalments) == agreement.total_amount > Decimal("900")
    assert instalments[0].due_date == first_due
    # The debtor lands on the first instalment's own payment page.
    assert response["Location"] == f"/p/{instalments[0].payment_token}"
    assert "faz parte de um acordo" in page(client, invoice).content.decode()


def test_instalments_outside_the_rules_become_a_task(client, debtor_tenant):
    invoice = overdue_invoice(debtor_tenant, amount="100.00")  # 10 × R$ 10 < the minimum
    answer = client.post(f"/p/{invoice.payment_token}/instalments", {"count": "6"}, follow=True)
    assert "nossa equipe" in answer.content.decode().lower()
    with scope(tenant=debtor_tenant):
        assert not Agreement.objects.exists()
        task = FollowUpTask.objects.get(origin="instalments")
        invoice.refresh_from_db()
    assert "6x" in task.title and invoice.status == InvoiceStatus.OPEN


def test_opting_out_of_a_channel_from_the_page(client, debtor_tenant):
    invoice = overdue_invoice(debtor_tenant)
    client.post(f"/p/{invoice.payment_token}/opt-out", {"channel": "sms"})
    client.post(f"/p/{invoice.payment_token}/opt-out", {"channel": "sms"})
    with scope(tenant=debtor_tenant):
        customer = Customer.objects.get(pk=invoice.customer_id)
        opt_outs = Interaction.objects.filter(kind="opt_out").count()
    assert customer.opted_out_channels == ["sms"] and opt_outs == 1
    html = page(client, invoice).content.decode()
    assert 'value="sms"' not in html and 'value="email"' in html


def test_another_tenants_token_never_mixes_scopes(client, debtor_tenant, tenant_b):
    mine = overdue_invoice(debtor_tenant)
    theirs = InvoiceFactory(tenant=tenant_b, due_date=tenant_today(tenant=tenant_b), amount="77.00")
    assert "Clínica Boa Vista" in page(client, theirs).content.decode()
    assert "Clínica Boa Vista" not in page(client, mine).content.decode()


def test_a_revoked_link_stops_working_and_a_reissued_one_works(client, debtor_tenant, api_a):
    invoice = overdue_invoice(debtor_tenant)
    old = invoice.payment_token
    answer = api_a.post(
        f"/api/v1/invoices/{invoice.pk}/revoke-link/", {}, content_type="application/json"
    )
    assert answer.status_code == 200
    new_url = answer.json()["payment_url"]
    assert old not in new_url
    assert client.get(f"/p/{old}").status_code == 404
    assert client.get(urlparse(new_url).path).status_code == 200
    gone = api_a.post(
        f"/api/v1/invoices/{invoice.pk}/revoke-link/",
        {"reissue": False},
        content_type="application/json",
    )
    assert client.get(urlparse(gone.json()["payment_url"]).path).status_code == 404
    assert client.get(urlparse(new_url).path).status_code == 404
