"""The provider adapters at the real boundary: the `twilio` and `sendgrid` SDKs against
loopback fakes of their HTTP APIs, Django's SMTP backend against a local SMTP server."""

import base64
import email
import json
import socket
from datetime import date

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django_scopes import scope

from collections_app.engine import ladder_evaluate
from collections_app.models import Customer, Interaction
from messaging.models import Message, Template
from messaging.providers.base import OutgoingMessage, TransportError
from messaging.providers.sendgrid import SendGridProvider
from messaging.providers.smtp import SMTPProvider
from messaging.providers.twilio import TwilioSMSProvider, TwilioWhatsAppProvider
from messaging.sending import message_send
from tests.collections_app.factories import InvoiceFactory
from tests.fakes import Answer
from tests.messaging.factories import ProviderAccountFactory

TWILIO = {"account_sid": "AC" + "1" * 32, "auth_token": "token-secreto"}


def outgoing(**kwargs) -> OutgoingMessage:
    values = {
        "ref": "ref-123",
        "channel": "sms",
        "recipient": "+5511987654321",
        "subject": "",
        "body": "Sua fatura vence hoje: R$ 1.234,50",
    }
    return OutgoingMessage(**{**values, **kwargs})


# --- Twilio ---------------------------------------------------------------------------------


def test_twilio_sms_goes_through_the_sdk_with_the_accounts_credentials(twilio):
    provider = TwilioSMSProvider(sender="+5511900000000", credentials=TWILIO)
    result = provider.send(outgoing(status_callback="https://app.example/webhooks/x/"))
    [request] = twilio.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{TWILIO['account_sid']}/Messages.json"
    auth = base64.b64decode(request.headers["Authorization"].split()[1]).decode()
    assert auth == f"{TWILIO['account_sid']}:token-secreto"
    form = request.form()
    assert form["To"] == "+5511987654321" and form["From"] == "+5511900000000"
    assert form["Body"] == "Sua fatura vence hoje: R$ 1.234,50"
    assert form["StatusCallback"] == "https://app.example/webhooks/x/"
    assert result.provider_message_id.startswith("SM")


def test_twilio_messaging_service_sender(twilio):
    TwilioSMSProvider(sender="MG" + "2" * 32, credentials=TWILIO).send(outgoing())
    form = twilio.requests[0].form()
    assert form["MessagingServiceSid"] == "MG" + "2" * 32 and "From" not in form


def test_whatsapp_starts_a_conversation_with_an_approved_template(twilio):
    provider = TwilioWhatsAppProvider(sender="+5511900000000", credentials=TWILIO)
    provider.send(
        outgoing(
            channel="whatsapp",
            content_sid="HX" + "3" * 32,
            content_variables={"1": "Maria", "2": "R$ 1.234,50"},
        )
    )
    form = twilio.requests[0].form()
    assert form["To"] == "whatsapp:+5511987654321"
    assert form["From"] == "whatsapp:+5511900000000"
    assert form["ContentSid"] == "HX" + "3" * 32
    assert json.loads(form["ContentVariables"]) == {"1": "Maria", "2": "R$ 1.234,50"}
    assert "Body" not in form


def test_whatsapp_free_text_only_inside_the_session_window(twilio):
    provider = TwilioWhatsAppProvider(sender="+5511900000000", credentials=TWILIO)
    with pytest.raises(TransportError) as refused:
        provider.send(outgoing(channel="whatsapp"))
    assert refused.value.permanent
    assert "approved template" in str(refused.value)
    assert twilio.requests == []  # refused before any call
    provider.send(outgoing(channel="whatsapp", session_open=True))
    assert twilio.requests[0].form()["Body"].startswith("Sua fatura")


@pytest.mark.parametrize(
    ("status", "code", "permanent", "bad_contact"),
    [
        (400, 21211, True, True),  # invalid number
        (400, 21610, True, True),  # the recipient replied STOP
        (429, 20429, False, False),  # too many requests
        (503, 20500, False, False),  # Twilio down
        (401, 20003, True, False),  # wrong credentials: no retry fixes that
    ],
)
def test_twilio_errors_are_classified(twilio, status, code, permanent, bad_contact):
    twilio.script.append(
        Answer(status, {"code": code, "message": "error", "more_info": "", "status": status})
    )
    with pytest.raises(TransportError) as failed:
        TwilioSMSProvider(sender="+5511900000000", credentials=TWILIO).send(outgoing())
    assert failed.value.permanent is permanent
    assert failed.value.bad_contact is bad_contact
    assert failed.value.code == str(code)
    assert str(code) in str(failed.value)


def test_a_slow_twilio_is_a_transient_error(twilio, settings):
    settings.PROVIDER_TIMEOUT_SECONDS = 0.2
    twilio.latency = 1.0
    with pytest.raises(TransportError) as failed:
        TwilioSMSProvider(sender="+5511900000000", credentials=TWILIO).send(outgoing())
    assert not failed.value.permanent


def test_missing_twilio_credentials_fail_permanently_without_a_call(twilio):
    with pytest.raises(TransportError) as failed:
        TwilioSMSProvider(sender="+5511900000000", credentials={}).send(outgoing())
    assert failed.value.permanent and twilio.requests == []


# --- SendGrid -------------------------------------------------------------------------------


def test_sendgrid_sends_text_and_html_with_our_reference_and_no_click_tracking(sendgrid):
    provider = SendGridProvider(sender="cobranca@escola.com.br", credentials={"api_key": "SG.x"})
    result = provider.send(
        outgoing(
            channel="email",
            recipient="maria@example.com",
            subject="Fatura vence hoje",
            html_body="<p>Sua fatura vence hoje</p>",
            headers={"List-Unsubscribe": "<https://app.example/u/abc>"},
        )
    )
    [request] = sendgrid.requests
    assert request.path == "/v3/mail/send"
    assert request.headers["Authorization"] == "Bearer SG.x"
    mail = request.json()
    assert mail["from"]["email"] == "cobranca@escola.com.br"
    assert mail["personalizations"][0]["to"] == [{"email": "maria@example.com"}]
    assert mail["subject"] == "Fatura vence hoje"
    assert [c["type"] for c in mail["content"]] == ["text/plain", "text/html"]
    assert mail["custom_args"] == {"regua_ref": "ref-123"}
    assert mail["tracking_settings"]["click_tracking"]["enable"] is False
    assert mail["headers"]["List-Unsubscribe"] == "<https://app.example/u/abc>"
    assert result.provider_message_id.startswith("sg-")


@pytest.mark.parametrize(
    ("status", "permanent"), [(400, True), (401, True), (429, False), (500, False)]
)
def test_sendgrid_errors_are_classified(sendgrid, status, permanent):
    sendgrid.script.append(Answer(status, {"errors": [{"message": "The to email is invalid"}]}))
    provider = SendGridProvider(sender="c@escola.com.br", credentials={"api_key": "SG.x"})
    with pytest.raises(TransportError) as failed:
        provider.send(outgoing(channel="email", recipient="x@example.com", subject="s"))
    assert failed.value.permanent is permanent
    assert f"SendGrid {status}" in str(failed.value)
    assert "The to email is invalid" in str(failed.value)


def free_port() -> int:
    """A loopback port nothing listens on (once the probe socket is closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_sendgrid_is_transient(settings):
    settings.SENDGRID_API_HOST = f"http://127.0.0.1:{free_port()}"
    provider = SendGridProvider(sender="c@escola.com.br", credentials={"api_key": "SG.x"})
    with pytest.raises(TransportError) as failed:
        provider.send(outgoing(channel="email", recipient="x@example.com", subject="s"))
    assert not failed.value.permanent


# --- SMTP -----------------------------------------------------------------------------------


class _Collect:
    def __init__(self, refuse: str = ""):
        self.messages = []
        self.refuse = refuse

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == self.refuse:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted"


@pytest.fixture
def smtp_server():

    handler = _Collect(refuse="ninguem@example.com")
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


def smtp_provider(port: int) -> SMTPProvider:
    return SMTPProvider(
        sender="cobranca@escola.com.br",
        credentials={"host": "127.0.0.1", "port": port, "security": "none"},
    )


def test_smtp_delivers_text_and_html_with_our_message_id(smtp_server):
    handler, port = smtp_server
    result = smtp_provider(port).send(
        outgoing(
            channel="email",
            recipient="maria@example.com",
            subject="Fatura vence hoje",
            html_body="<p>Olá</p>",
            headers={"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        )
    )
    [received] = handler.messages
    assert received["To"] == "maria@example.com"
    assert received["Subject"] == "Fatura vence hoje"
    assert received["Message-ID"] == result.provider_message_id
    assert "ref-123" in result.provider_message_id
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    types = [part.get_content_type() for part in received.walk()]
    assert "text/plain" in types and "text/html" in types


def test_smtp_refused_recipient_is_permanent_and_flags_the_contact(smtp_server):
    _handler, port = smtp_server
    with pytest.raises(TransportError) as failed:
        smtp_provider(port).send(
            outgoing(channel="email", recipient="ninguem@example.com", subject="s")
        )
    assert failed.value.permanent and failed.value.bad_contact
    assert failed.value.code == "550"


def test_smtp_server_down_is_transient():
    with pytest.raises(TransportError) as failed:
        smtp_provider(free_port()).send(
            outgoing(channel="email", recipient="a@example.com", subject="s")
        )
    assert not failed.value.permanent


# --- The send path with a tenant's own account ----------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("answer", "status", "error"),
    [
        (None, "sent", ""),
        (
            Answer(400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}),
            "failed",
            "Twilio 21211: invalid 'To' phone number",
        ),
    ],
)
def test_a_tenants_twilio_account_sends_its_reminders(tenant_a, twilio, answer, status, error):

    day = date(2026, 12, 2)
    ProviderAccountFactory(
        tenant=tenant_a, provider="twilio_sms", credentials=TWILIO, sender="+5511900000000"
    )
    InvoiceFactory(
        tenant=tenant_a,
        due_date=day,
        amount="1234.50",
        customer={
            "external_id": "SMS",
            "name": "Maria",
            "phone": "+5511987654321",
            "preferred_channels": ["sms"],
        },
    )
    if answer:
        twilio.script.append(answer)
    with scope(tenant=tenant_a):
        ladder_evaluate(tenant=tenant_a, today=day)
        [message] = Message.objects.all()
        assert message.channel == "sms"
        message_send(tenant=tenant_a, message_id=message.pk)
        message.refresh_from_db()
    [request] = twilio.requests
    assert request.form()["To"] == "+5511987654321"
    assert "R$ 1.234,50" in request.form()["Body"]
    assert message.status == status
    # The provider kind is recorded when the message is claimed, whatever the outcome.
    assert message.provider == "twilio_sms"
    assert message.error == error

    with scope(tenant=tenant_a):
        customer = Customer.objects.get(external_id="SMS")
        flagged = list(Interaction.objects.filter(kind="contact_invalid").values_list("summary"))
    if status == "sent":
        assert message.provider_message_id.startswith("SM")
        assert customer.invalid_channels == [] and flagged == []
    else:
        # The number is flagged: no later message tries it until it changes.
        assert customer.invalid_channels == ["sms"]
        assert flagged == [(f"sms: +5511987654321 recusado pelo provedor ({error})",)]


@pytest.mark.django_db
def test_a_whatsapp_reminder_starts_the_conversation_with_the_approved_template(tenant_a, twilio):

    day = date(2026, 12, 2)
    ProviderAccountFactory(
        tenant=tenant_a, provider="twilio_whatsapp", credentials=TWILIO, sender="+5511900000000"
    )
    with scope(tenant=tenant_a):
        Template.objects.filter(key="due_today", channel="whatsapp").update(
            content_sid="HX" + "4" * 32,
            content_variables=["customer_name", "amount", "payment_link"],
        )
    invoice = InvoiceFactory(
        tenant=tenant_a,
        due_date=day,
        amount="1234.50",
        customer={"external_id": "W", "name": "Walter", "phone": "+5511987654321"},
    )
    with scope(tenant=tenant_a):
        ladder_evaluate(tenant=tenant_a, today=day)
        [message] = Message.objects.all()
        assert message.channel == "whatsapp"
        assert message_send(tenant=tenant_a, message_id=message.pk).status == "sent"
    form = twilio.requests[0].form()
    assert form["To"] == "whatsapp:+5511987654321"
    assert form["ContentSid"] == "HX" + "4" * 32
    variables = json.loads(form["ContentVariables"])
    assert variables["1"] == "Walter" and variables["2"] == "R$ 1.234,50"
    assert variables["3"].startswith(f"{settings.PUBLIC_BASE_URL}/p/{invoice.payment_token}?m=")


@pytest.mark.django_db
def test_a_whatsapp_template_naming_an_unknown_variable_fails_its_message(tenant_a, twilio):

    ProviderAccountFactory(
        tenant=tenant_a, provider="twilio_whatsapp", credentials=TWILIO, sender="+55119"
    )
    with scope(tenant=tenant_a):
        Template.objects.filter(key="due_today", channel="whatsapp").update(
            content_sid="HX" + "4" * 32, content_variables=["customer_name", "saldo"]
        )
    InvoiceFactory(
        tenant=tenant_a,
        due_date=date(2026, 12, 2),
        customer={"external_id": "W", "phone": "+5511987654321", "name": "W"},
    )
    with scope(tenant=tenant_a):
        ladder_evaluate(tenant=tenant_a, today=date(2026, 12, 2))
        message = Message.objects.get()
        assert message_send(tenant=tenant_a, message_id=message.pk).status == "failed"
        message.refresh_from_db()
    assert message.error == "Template: WhatsApp template variable(s) not available: saldo"
    assert twilio.requests == []
