"""The payment page reads like a finance product (issue 16): the amount is valid for today,
boleto only when the invoice has one (the default templates never promise it), an agreement's
instalments listed with their dates and states and no re-instalment below the tenant's minimum,
interest in plain words, an opt-out that names the channel, the CPF/CNPJ error by its field."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django_scopes import scope, scopes_disabled

from collections_app.engine.defaults import DEFAULT_TEMPLATES
from collections_app.engine.message_context import VARIABLES
from collections_app.models import Agreement, Invoice, InvoiceStatus
from messaging.models import Template
from tenants.selectors import tenant_today
from tests.collections_app.payments.test_payment_page import overdue_invoice, page

pytestmark = pytest.mark.django_db


@pytest.fixture
def pay_tenant(tenant_a):
    tenant_a.pix_key = "12345678000195"
    tenant_a.merchant_name = "Escola Aurora"
    tenant_a.merchant_city = "Recife"
    tenant_a.save()
    return tenant_a


def visible_text(html: str) -> str:
    """The page's words, without tags, attributes, styles or scripts."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_amount_is_said_to_be_valid_for_today(client, pay_tenant):
    invoice = overdue_invoice(pay_tenant)
    today = tenant_today(tenant=pay_tenant)
    text = visible_text(page(client, invoice).content.decode())
    assert f"Valor válido para pagamento hoje, {today:%d/%m/%Y}" in text


def test_boleto_is_mentioned_only_when_the_invoice_has_one(client, pay_tenant):
    without = overdue_invoice(pay_tenant)
    text = visible_text(page(client, without).content.decode())
    assert "boleto" not in text.lower()
    assert "Copiar código Pix" in text
    with_boleto = overdue_invoice(pay_tenant, external_id="B")
    line = "34191.79001 01043.510047 91020.150008 1 96610000100000"
    with scopes_disabled():
        Invoice.objects.filter(pk=with_boleto.pk).update(boleto_line=line)
    text = visible_text(page(client, with_boleto).content.decode())
    assert "Copiar linha digitável" in text or "boleto" in text.lower()
    assert line in text


def test_the_default_templates_promise_no_boleto_and_use_only_known_variables(tenant_a):
    for key, channel, _name, subject, body in DEFAULT_TEMPLATES:
        assert "boleto" not in (subject + body).lower(), (key, channel)
        for name in re.findall(r"{{\s*(\w+)\s*}}", subject + body):
            assert name in VARIABLES, (key, channel, name)
    # A new tenant's D0 message (the defaults are installed on creation) says no "Pix ou boleto".
    with scope(tenant=tenant_a):
        d0 = Template.objects.get(key="due_today", channel="whatsapp")
    assert "boleto" not in d0.body.lower() and "{{ payment_link }}" in d0.body


def test_interest_is_explained_in_plain_words(client, pay_tenant):
    invoice = overdue_invoice(pay_tenant, days=10)
    days = (tenant_today(tenant=pay_tenant) - invoice.effective_due_date).days
    text = visible_text(page(client, invoice).content.decode())
    assert f"Juros de 1% ao mês, contados por dia: 0,0333% × {days} dias" in text
    assert "pro rata" not in text


def _agreement(client, tenant, amount="900.00", count=3):
    invoice = overdue_invoice(tenant, amount=amount)
    first_due = tenant_today(tenant=tenant) + timedelta(days=5)
    client.post(
        f"/p/{invoice.payment_token}/instalments",
        {"count": str(count), "first_due": first_due.isoformat()},
    )
    with scope(tenant=tenant):
        agreement = Agreement.objects.get()
        return invoice, list(agreement.instalments.order_by("due_date"))


def test_an_instalment_lists_all_the_agreements_instalments_with_dates_and_states(
    client, pay_tenant
):
    original, instalments = _agreement(client, pay_tenant)
    with scopes_disabled():
        Invoice.objects.filter(pk=instalments[0].pk).update(status=InvoiceStatus.PAID)
    html = page(client, instalments[1]).content.decode()
    rows = re.findall(r'<tr data-instalment="(\d)" data-instalment-state="(\w+)"', html)
    assert rows == [("1", "paid"), ("2", "open"), ("3", "open")]
    text = visible_text(html)
    assert "Parcelas do acordo" in text
    for instalment in instalments:
        assert instalment.effective_due_date.strftime("%d/%m/%Y") in text
    assert "Paga" in text and "A pagar" in text and "(esta)" in text
    # The invoice the agreement replaced lists them too, so the debtor finds every instalment.
    replaced = visible_text(page(client, original).content.decode())
    assert "Parcelas do acordo" in replaced and "3/3" in replaced


def test_no_plan_below_the_tenants_minimum_instalment_is_offered(client, pay_tenant):
    _original, instalments = _agreement(client, pay_tenant)
    pay_tenant.instalment_min_amount = Decimal("120.00")
    pay_tenant.save()
    amount = instalments[1].amount  # about R$ 306: only 2 × R$ 153 reaches R$ 120
    assert amount / 2 >= Decimal("120") > amount / 3
    html = page(client, instalments[1]).content.decode()
    counts = re.findall(r'<option value="(\d+)">', html)
    assert counts == ["2"]
    # Below the minimum even in two: no re-instalment offered at all.
    pay_tenant.instalment_min_amount = Decimal("200.00")
    pay_tenant.save()
    html = page(client, instalments[1]).content.decode()
    assert 'id="instalments"' not in html


def test_the_opt_out_confirmation_names_the_channel(client, pay_tenant):
    invoice = overdue_invoice(pay_tenant)
    done = client.post(f"/p/{invoice.payment_token}/opt-out", {"channel": "whatsapp"}, follow=True)
    assert "não receberá mais lembretes por WhatsApp" in done.content.decode()
    done = client.post(f"/p/{invoice.payment_token}/opt-out", {"channel": "email"}, follow=True)
    assert "não receberá mais lembretes por e-mail" in done.content.decode()


def test_a_document_that_does_not_match_is_said_by_its_field(client, pay_tenant):
    invoice = overdue_invoice(pay_tenant)
    html = client.post(
        f"/p/{invoice.payment_token}/identify", {"document": "11111"}, follow=True
    ).content.decode()
    error = html.index("não confere")
    assert 'class="notices"' not in html[:error]  # not at the top of the page
    field = html.index('id="document"')
    others = html.index('id="others"')
    assert others < field < error < html.index("</form>", field)
    assert 'aria-invalid="true"' in html and 'aria-describedby="document-notice"' in html
