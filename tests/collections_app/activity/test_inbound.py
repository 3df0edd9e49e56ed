"""Customers writing back: replies for the team, STOP / SAIR / PARAR, WhatsApp's session."""

from datetime import date, timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_scopes import scope, scopes_disabled
from twilio.request_validator import RequestValidator

from collections_app.models import Customer, FollowUpTask, Interaction, InteractionKind
from messaging.inbound import whatsapp_session_open
from messaging.models import InboundMessage, Message, MessagePurpose
from tests.collections_app.factories import InvoiceFactory
from tests.messaging.factories import ProviderAccountFactory

pytestmark = pytest.mark.django_db
TOKEN = "token-inbound"
NUMBER = "+5511987654321"


@pytest.fixture
def twilio_account(tenant_a, twilio):
    """The tenant's Twilio account, its API a loopback fake."""
    ProviderAccountFactory(
        tenant=tenant_a,
        provider="twilio_sms",
        credentials={"account_sid": "AC" + "1" * 32, "auth_token": TOKEN},
        sender="+5511900000000",
    )
    return twilio


@pytest.fixture
def customer(tenant_a, twilio_account):
    invoice = InvoiceFactory(
        tenant=tenant_a,
        due_date=date(2026, 12, 2),
        customer={"external_id": "R", "name": "Rita", "phone": NUMBER, "email": "r@ex.com"},
    )
    return invoice.customer


def inbound(tenant, body, *, sid="SM0001", sender=NUMBER, token=TOKEN):
    path = f"/webhooks/twilio/{tenant.slug}/inbound/"
    params = {"MessageSid": sid, "From": sender, "To": "+5511900000000", "Body": body}
    signature = RequestValidator(token).compute_signature(
        f"{settings.PUBLIC_BASE_URL}{path}", params
    )
    return Client().post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


def timeline(customer, kind):
    with scopes_disabled():
        return list(
            Interaction.objects.filter(customer=customer, kind=kind)
            .order_by("id")
            .values_list("summary", flat=True)
        )


def reply_tasks(customer):
    with scopes_disabled():
        return list(FollowUpTask.objects.filter(customer=customer, origin="reply"))


def test_a_reply_goes_to_the_timeline_and_to_an_agent_once(tenant_a, customer):
    response = inbound(tenant_a, "Já paguei ontem, segue o comprovante")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    assert "<Response></Response>" in response.content.decode()
    assert inbound(tenant_a, "Já paguei ontem, segue o comprovante").status_code == 200  # again
    assert timeline(customer, InteractionKind.REPLY) == [
        "SMS: Já paguei ontem, segue o comprovante"
    ]
    [task] = reply_tasks(customer)
    assert task.title == "Responder mensagem do cliente"
    assert task.notes == "Já paguei ontem, segue o comprovante"
    # A second message while the task is open: in the timeline, no second task.
    inbound(tenant_a, "Alô?", sid="SM0002")
    assert len(timeline(customer, InteractionKind.REPLY)) == 2
    assert len(reply_tasks(customer)) == 1


@pytest.mark.parametrize("word", ["STOP", "sair", " Parar! "])
def test_stop_words_opt_out_of_the_channel_and_are_confirmed_once(
    tenant_a, customer, word, twilio_account, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # eager Celery: sent here
        assert inbound(tenant_a, word).status_code == 200
    assert inbound(tenant_a, word, sid="SM0002").status_code == 200  # a second STOP
    with scopes_disabled():
        customer = Customer.objects.get(pk=customer.pk)
        confirmations = list(Message.objects.filter(tenant=tenant_a, purpose=MessagePurpose.MANUAL))
    assert customer.opted_out_channels == ["sms"]
    assert len(timeline(customer, InteractionKind.OPT_OUT)) == 1
    [confirmation] = confirmations
    assert confirmation.channel == "sms" and confirmation.recipient == NUMBER
    assert "não receberá mais mensagens de cobrança por SMS" in confirmation.body
    assert confirmation.status == "sent"  # the one message the opt-out lets through
    [sent] = twilio_account.requests
    assert sent.form()["To"] == NUMBER and "não receberá mais" in sent.form()["Body"]
    assert reply_tasks(customer) == []


def test_a_sentence_with_stop_in_it_is_a_reply_not_an_opt_out(tenant_a, customer):
    inbound(tenant_a, "Não quero parar de receber, só atrasei")
    with scopes_disabled():
        assert Customer.objects.get(pk=customer.pk).opted_out_channels == []
    assert len(reply_tasks(customer)) == 1


def test_whatsapp_message_opens_the_24_hour_session(tenant_a, customer):
    now = timezone.now()
    with scope(tenant=tenant_a):
        assert not whatsapp_session_open(tenant=tenant_a, recipient=NUMBER)
    inbound(tenant_a, "Oi, posso pagar sexta?", sender=f"whatsapp:{NUMBER}")
    with scope(tenant=tenant_a):
        assert whatsapp_session_open(tenant=tenant_a, recipient=NUMBER)
        later = now + timedelta(hours=25)
        assert not whatsapp_session_open(tenant=tenant_a, recipient=NUMBER, now=later)
    assert timeline(customer, InteractionKind.REPLY) == ["WhatsApp: Oi, posso pagar sexta?"]


def test_an_unknown_number_is_recorded_without_touching_customers(tenant_a, customer):
    assert inbound(tenant_a, "Quem é?", sender="+5521999990000").status_code == 200
    with scopes_disabled():
        assert InboundMessage.objects.filter(sender="+5521999990000").count() == 1
    assert timeline(customer, InteractionKind.REPLY) == []


def test_a_forged_inbound_message_gets_403_and_is_not_recorded(tenant_a, customer):
    assert inbound(tenant_a, "STOP", token="forged").status_code == 403
    with scopes_disabled():
        assert InboundMessage.objects.count() == 0
        assert Customer.objects.get(pk=customer.pk).opted_out_channels == []
