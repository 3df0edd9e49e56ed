"""People read labels, never the codes the models store (payment sources, message states, skip
reasons, channels, template keys), and the timeline shows what each message said, with its
delivery states folded under it."""

import re
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.utils import timezone
from django_scopes import scope

from collections_app.activity.messages import messages_status_log
from collections_app.models import Dispatch, DispatchStatus, InvoiceMessage, Ladder, PaymentSource
from collections_app.payments.services import invoice_record_payment
from messaging.models import Message, MessageStatus, Template
from tenants.selectors import tenant_today
from tests.collections_app.factories import InvoiceFactory

pytestmark = pytest.mark.django_db

BODY = "Olá, Maria!\nA fatura NF-1 de R$ 900,00 venceu. Pague em https://regua.example/p/abc"


class _Visible(HTMLParser):
    """The text a person sees: character data outside <script>, <style> and <title>."""

    def __init__(self):
        super().__init__()
        self.parts, self._hidden = [], 0

    def handle_starttag(self, tag, attrs):
        self._hidden += tag in ("script", "style", "title")

    def handle_endtag(self, tag):
        self._hidden -= tag in ("script", "style", "title") and self._hidden > 0

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return re.sub(r"\s+", " ", " ".join(parser.parts))


def _message(tenant, invoice, status, *, channel="email", moves=(), **fields):
    """A message about `invoice` in `status`, whose moves are logged by the real writer."""
    template = Template.objects.filter(key="overdue_3", channel=channel).first()
    message = Message.objects.create(
        tenant=tenant,
        channel=channel,
        recipient="maria@example.com" if channel == "email" else "+5511987654321",
        template=template,
        subject="Fatura NF-1 em aberto" if channel == "email" else "",
        body=BODY if status != MessageStatus.QUEUED else "",
        status=status,
        created_at=timezone.now() - timedelta(hours=4),
        **fields,
    )
    InvoiceMessage.objects.create(tenant=tenant, invoice=invoice, message=message)
    messages_status_log(changes=[(message, old, new) for old, new in moves])
    return message


@pytest.fixture
def busy_invoice(tenant_a):
    """An open, disputed invoice due in ten days: paid in part by an import and a bank file,
    one step skipped for the dispute, and messages in every state."""
    today = tenant_today(tenant=tenant_a)
    invoice = InvoiceFactory(tenant=tenant_a, due_date=today + timedelta(days=10), amount="900")
    now = timezone.now()
    with scope(tenant=tenant_a):
        for amount, source in (("100", PaymentSource.IMPORT), ("200", PaymentSource.BANK_FILE)):
            invoice_record_payment(
                tenant=tenant_a, invoice=invoice, amount=Decimal(amount), source=source
            )
        invoice.refresh_from_db()
        invoice.disputed = True
        invoice.save(update_fields=["disputed"])
        overdue_3 = Ladder.objects.get(is_default=True).steps.get(template_key="overdue_3")
        Dispatch.objects.create(
            tenant=tenant_a,
            invoice=invoice,
            step=overdue_3,
            scheduled_for=today,
            evaluated_on=today,
            status=DispatchStatus.SKIPPED,
            reason="disputed",
        )
        hour = timedelta(hours=1)
        _message(tenant_a, invoice, MessageStatus.QUEUED)
        _message(tenant_a, invoice, MessageStatus.SENDING, moves=[("queued", "sending")])
        _message(
            tenant_a,
            invoice,
            MessageStatus.READ,
            sent_at=now - 3 * hour,
            delivered_at=now - 2 * hour,
            read_at=now - hour,
            moves=[("sending", "sent"), ("sent", "delivered"), ("delivered", "read")],
        )
        _message(
            tenant_a,
            invoice,
            MessageStatus.DELIVERED,
            channel="sms",
            sent_at=now - 3 * hour,
            delivered_at=now - 2 * hour,
            moves=[("sending", "sent"), ("sent", "delivered")],
        )
        _message(
            tenant_a,
            invoice,
            MessageStatus.FAILED,
            channel="whatsapp",
            failed_at=now - hour,
            error="Número inválido",
            moves=[("sending", "failed")],
        )
        _message(
            tenant_a,
            invoice,
            MessageStatus.CANCELLED,
            failed_at=now - hour,
            error="invoice_paid",
            moves=[("queued", "cancelled")],
        )
    return invoice


RAW_CODES = [
    "bank_file",
    "(import)",
    "sending →",
    "disputed",
    "pre_due_5",
    "overdue_3",
    "email:",
    "whatsapp:",
    "sms:",
    "invoice_paid",
]


def test_invoice_page_shows_labels_never_codes(login, viewer, busy_invoice):
    html = login(viewer).get(f"/invoices/{busy_invoice.pk}/").content.decode()
    text = visible_text(html)
    for code in RAW_CODES:
        assert code not in text, code
    for label in (
        "Importação de planilha",
        "Arquivo de retorno bancário",
        "Seria pulada: Fatura contestada",
        "Usaria: E-mail",
        "Na fila",
        "Enviando",
        "Entregue",
        "Lida",
        "Falhou",
        "Cancelada",
        "E-mail",
        "SMS",
        "WhatsApp",
    ):
        assert label in text, label
    # The skipped step's reason is a sentence of its own, not glued to the next words.
    assert "contestadaUsaria" not in text and "Seria pulada: Fatura contestada Usaria" in text


def test_agent_sees_template_names_in_the_send_now_list(login, agent, busy_invoice):
    text = visible_text(login(agent).get(f"/invoices/{busy_invoice.pk}/").content.decode())
    assert "Lembrete 5 dias antes do vencimento" in text
    assert "pre_due_5" not in text


def test_the_timeline_shows_what_each_message_said_with_its_states(
    login, viewer, tenant_a, busy_invoice
):
    client = login(viewer)
    for url in (f"/invoices/{busy_invoice.pk}/", f"/customers/{busy_invoice.customer_id}/"):
        html = client.get(url).content.decode()
        timeline = html[html.index("data-timeline") :]
        text = visible_text(timeline)
        assert "Fatura NF-1 em aberto" in text  # the e-mail's subject
        assert "A fatura NF-1 de R$ 900,00 venceu." in text  # its body as sent
        # One entry per message (six), not one per status change.
        assert timeline.count("data-message-text") == 6
        [read] = [
            d
            for d in re.findall(r'<details class="message-states".*?</details>', timeline, re.S)
            if 'data-state="read"' in d
        ]
        states = visible_text(read)
        # The read e-mail: queued → sent → delivered → read, each dated, folded in <details>.
        assert re.search(
            r"Na fila {at} Enviada {at} Entregue {at} Lida {at}".replace(
                "{at}", r"\d\d/\d\d/\d{4} \d\d:\d\d"
            ),
            states,
        ), states
        assert "Número inválido" in text  # why the WhatsApp failed
        assert "Fatura paga" in text  # why the e-mail was cancelled
        for code in RAW_CODES:
            assert code not in text, (url, code)


def test_ladder_editor_names_templates_instead_of_keys(login, viewer, tenant_a):
    with scope(tenant=tenant_a):
        ladder = Ladder.objects.get(is_default=True)
    html = login(viewer).get(f"/settings/ladders/{ladder.pk}/").content.decode()
    text = visible_text(html)
    assert "Lembrete 5 dias antes do vencimento (E-mail)" in text
    for code in ("pre_due_5", "overdue_3", "email", "whatsapp"):
        assert code not in text, code


def test_another_tenants_invoice_timeline_is_not_shown(login, outsider, busy_invoice):
    assert login(outsider).get(f"/invoices/{busy_invoice.pk}/").status_code == 404


def test_customer_page_names_the_channels_a_customer_left(login, viewer, tenant_a):
    invoice = InvoiceFactory(tenant=tenant_a)
    with scope(tenant=tenant_a):
        customer = invoice.customer
        customer.opted_out_channels = ["whatsapp", "email"]
        customer.save(update_fields=["opted_out_channels"])
    text = visible_text(login(viewer).get(f"/customers/{customer.pk}/").content.decode())
    assert "WhatsApp, E-mail" in text
    assert "whatsapp" not in text and "email," not in text


def test_overview_recent_activity_reads_labels(login, viewer, busy_invoice):
    text = visible_text(login(viewer).get("/").content.decode())
    assert "Arquivo de retorno bancário" in text and "E-mail: Entregue → Lida" in text
    for code in ("bank_file", "(import)", "sending →", "email:"):
        assert code not in text, code
