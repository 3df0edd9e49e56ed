"""Delivery reports from the providers, signed as the providers sign them."""

import base64
import json
import time
from datetime import date, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.test import Client
from django_scopes import scope, scopes_disabled
from twilio.request_validator import RequestValidator

from collections_app.engine import ladder_evaluate
from collections_app.models import Customer, Interaction, InteractionKind
from messaging.models import Message, MessageStatus
from messaging.sending import message_send
from tests.clock import on_the_suite_day
from tests.collections_app.factories import InvoiceFactory
from tests.messaging.factories import ProviderAccountFactory

pytestmark = [pytest.mark.django_db, on_the_suite_day]  # its days are written for 2026-12-02
DAY = date(2026, 12, 2)
TOKEN = "token-do-tenant"


@pytest.fixture
def sent_sms(tenant_a, settings, twilio):
    """A reminder sent by SMS through the tenant's Twilio account (a loopback fake)."""
    ProviderAccountFactory(
        tenant=tenant_a,
        provider="twilio_sms",
        credentials={"account_sid": "AC" + "1" * 32, "auth_token": TOKEN},
        sender="+5511900000000",
    )
    InvoiceFactory(
        tenant=tenant_a,
        due_date=DAY,
        customer={
            "external_id": "S",
            "name": "Sara",
            "phone": "+5511987654321",
            "preferred_channels": ["sms"],
        },
    )
    with scope(tenant=tenant_a):
        ladder_evaluate(tenant=tenant_a, today=DAY)
        message = Message.objects.get()
        message_send(tenant=tenant_a, message_id=message.pk)
        message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    callback = twilio.requests[0].form()["StatusCallback"]
    # The message's reference rides in the callback URL (Twilio signs the URL with it).
    assert callback == (
        f"{settings.PUBLIC_BASE_URL}/webhooks/twilio/{tenant_a.slug}/status/?ref={message.ref}"
    )
    return message


def post_status(tenant, params: dict, *, token: str = TOKEN, signature: str | None = None):
    path = f"/webhooks/twilio/{tenant.slug}/status/"
    if signature is None:
        signature = RequestValidator(token).compute_signature(
            f"{settings.PUBLIC_BASE_URL}{path}", params
        )
    return Client().post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


def status_entries(tenant, message):
    with scopes_disabled():
        return list(
            Interaction.objects.filter(message=message, kind=InteractionKind.MESSAGE_STATUS)
            .order_by("id")
            .values_list("summary", flat=True)
        )


def reload(message):
    with scopes_disabled():
        return Message.objects.get(pk=message.pk)


def test_delivered_and_read_reports_move_the_message_forward_once(tenant_a, sent_sms):
    sid = sent_sms.provider_message_id
    delivered = {"MessageSid": sid, "MessageStatus": "delivered", "To": "+5511987654321"}
    assert post_status(tenant_a, delivered).status_code == 204
    assert post_status(tenant_a, delivered).status_code == 204  # a replay
    message = reload(sent_sms)
    assert message.status == MessageStatus.DELIVERED and message.delivered_at is not None
    assert post_status(tenant_a, {"MessageSid": sid, "MessageStatus": "read"}).status_code == 204
    # A late "sent" after "read" changes nothing.
    assert post_status(tenant_a, {"MessageSid": sid, "MessageStatus": "sent"}).status_code == 204
    assert reload(sent_sms).status == MessageStatus.READ
    assert status_entries(tenant_a, sent_sms) == [
        "sms: sending → sent",
        "sms: sent → delivered",
        "sms: delivered → read",
    ]


def test_undelivered_report_keeps_the_providers_reason(tenant_a, sent_sms):
    params = {
        "MessageSid": sent_sms.provider_message_id,
        "MessageStatus": "undelivered",
        "ErrorCode": "21610",
    }
    assert post_status(tenant_a, params).status_code == 204
    message = reload(sent_sms)
    assert message.status == MessageStatus.UNDELIVERED
    assert message.error == "Twilio 21610: the recipient replied STOP (unsubscribed)"


@pytest.mark.parametrize("signature", ["", "forged", None])
def test_a_missing_or_wrong_signature_gets_403_and_changes_nothing(tenant_a, sent_sms, signature):
    params = {"MessageSid": sent_sms.provider_message_id, "MessageStatus": "delivered"}
    if signature is None:  # signed, but with another account's token
        response = post_status(tenant_a, params, token="someone-elses-token")
    else:
        response = post_status(tenant_a, params, signature=signature)
    assert response.status_code == 403
    assert reload(sent_sms).status == MessageStatus.SENT


def test_a_report_signed_for_another_tenant_cannot_touch_this_one(tenant_a, tenant_b, sent_sms):
    params = {"MessageSid": sent_sms.provider_message_id, "MessageStatus": "failed"}
    # Tenant B has no Twilio account with A's token: refused.
    assert post_status(tenant_b, params).status_code == 403
    # Signed right with B's own token, the id is looked up among B's messages only.
    ProviderAccountFactory(
        tenant=tenant_b,
        provider="twilio_sms",
        credentials={"account_sid": "AC" + "2" * 32, "auth_token": "token-de-b"},
    )
    assert post_status(tenant_b, params, token="token-de-b").status_code == 204
    assert reload(sent_sms).status == MessageStatus.SENT


def test_unknown_tenant_is_404(tenant_a):
    response = Client().post("/webhooks/twilio/nobody/status/", {"MessageSid": "SM1"})
    assert response.status_code == 404


# --- SendGrid's signed Event Webhook ---------------------------------------------------------


@pytest.fixture
def signing_key():

    return ec.generate_private_key(ec.SECP256R1())


def public_key_text(key) -> str:
    """The verification key as SendGrid shows it: base64 of the DER public key."""

    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


@pytest.fixture
def sent_email(tenant_a, signing_key, sendgrid):
    """A reminder sent by e-mail through the tenant's SendGrid account (a loopback fake)."""
    ProviderAccountFactory(
        tenant=tenant_a,
        provider="sendgrid",
        credentials={"api_key": "SG.x", "webhook_public_key": public_key_text(signing_key)},
    )
    InvoiceFactory(
        tenant=tenant_a,
        due_date=DAY,
        customer={"external_id": "E", "name": "Eva", "email": "eva@ex.com"},
    )
    with scope(tenant=tenant_a):
        ladder_evaluate(tenant=tenant_a, today=DAY)
        message = Message.objects.get()
        message_send(tenant=tenant_a, message_id=message.pk)
        message.refresh_from_db()
    assert sendgrid.requests[0].json()["custom_args"] == {"regua_ref": message.ref}
    assert message.status == MessageStatus.SENT and message.provider == "sendgrid"
    return message


def post_events(tenant, events, key, *, timestamp=None, signature=None):

    body = json.dumps(events)
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    if signature is None:
        raw = key.sign((timestamp + body).encode(), ec.ECDSA(hashes.SHA256()))
        signature = base64.b64encode(raw).decode()
    return Client().post(
        f"/webhooks/sendgrid/{tenant.slug}/events/",
        body,
        content_type="application/json",
        HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE=signature,
        HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP=timestamp,
    )


def event(message, name, **extra):
    return {
        "email": message.recipient,
        "event": name,
        "sg_message_id": f"{message.provider_message_id}.filter0001",
        "regua_ref": message.ref,
        "timestamp": 1764676800,
        **extra,
    }


def test_signed_events_move_the_email_forward_once(tenant_a, sent_email, signing_key):
    batch = [event(sent_email, "processed"), event(sent_email, "delivered")]
    assert post_events(tenant_a, batch, signing_key).status_code == 204
    assert post_events(tenant_a, batch, signing_key).status_code == 204  # a replay
    assert reload(sent_email).status == MessageStatus.DELIVERED
    assert post_events(tenant_a, [event(sent_email, "open")], signing_key).status_code == 204
    assert reload(sent_email).status == MessageStatus.READ
    assert status_entries(tenant_a, sent_email) == [
        "email: sending → sent",
        "email: sent → delivered",
        "email: delivered → read",
    ]


def test_a_bounce_fails_the_email_with_the_reason(tenant_a, sent_email, signing_key):
    bounce = event(sent_email, "bounce", reason="550 5.1.1 The email account does not exist")
    assert post_events(tenant_a, [bounce], signing_key).status_code == 204
    message = reload(sent_email)
    assert message.status == MessageStatus.FAILED
    assert message.error == "SendGrid bounce: 550 5.1.1 The email account does not exist"


def test_unsigned_forged_or_stale_events_get_403(tenant_a, sent_email, signing_key):

    batch = [event(sent_email, "delivered")]
    assert post_events(tenant_a, batch, signing_key, signature="").status_code == 403
    stranger = ec.generate_private_key(ec.SECP256R1())
    assert post_events(tenant_a, batch, stranger).status_code == 403
    an_hour_ago = int(time.time()) - 3600  # a captured batch sent again later
    assert post_events(tenant_a, batch, signing_key, timestamp=an_hour_ago).status_code == 403
    assert reload(sent_email).status == MessageStatus.SENT


def test_a_signed_body_that_is_not_a_list_of_events_is_refused(tenant_a, sent_email, signing_key):
    assert post_events(tenant_a, {"event": "delivered"}, signing_key).status_code == 400
    assert reload(sent_email).status == MessageStatus.SENT


# --- Refused contacts ------------------------------------------------------------------------


def customer_of_message(message):

    with scopes_disabled():
        return Customer.objects.get(invoices__message_links__message=message)


def test_a_stop_reported_by_twilio_opts_the_customer_out_of_the_channel(tenant_a, sent_sms):
    params = {
        "MessageSid": sent_sms.provider_message_id,
        "MessageStatus": "undelivered",
        "ErrorCode": "21610",
    }
    assert post_status(tenant_a, params).status_code == 204
    assert post_status(tenant_a, params).status_code == 204  # a replay flags nothing twice
    customer = customer_of_message(sent_sms)
    assert customer.opted_out_channels == ["sms"] and customer.invalid_channels == []
    with scopes_disabled():
        kinds = list(
            Interaction.objects.filter(customer=customer, kind=InteractionKind.OPT_OUT).values_list(
                "channel", flat=True
            )
        )
    assert kinds == ["sms"]


def test_an_invalid_number_is_not_used_again_until_it_changes(tenant_a, sent_sms, api_a):
    params = {
        "MessageSid": sent_sms.provider_message_id,
        "MessageStatus": "failed",
        "ErrorCode": "21211",
    }
    assert post_status(tenant_a, params).status_code == 204
    customer = customer_of_message(sent_sms)
    assert customer.invalid_channels == ["sms"]
    # The next reminder skips SMS and falls back to WhatsApp (the same number's WhatsApp is
    # another channel: only what a provider refused is flagged).
    InvoiceFactory(tenant=tenant_a, due_date=DAY + timedelta(days=1), customer={"external_id": "S"})
    with scope(tenant=tenant_a):
        ladder_evaluate(tenant=tenant_a, today=DAY + timedelta(days=1))
        newest = Message.objects.order_by("-id").first()
    assert newest.channel == "whatsapp"
    body = api_a.get(f"/api/v1/customers/{customer.pk}/").json()
    assert body["invalid_channels"] == ["sms"]
    # A new number makes SMS usable again.
    response = api_a.patch(
        f"/api/v1/customers/{customer.pk}/",
        json.dumps({"phone": "+5511912345678"}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["invalid_channels"] == []


def test_a_blocked_bounce_fails_the_email_without_flagging_it(tenant_a, sent_email, signing_key):
    blocked = event(sent_email, "bounce", type="blocked", reason="421 try again later")
    assert post_events(tenant_a, [blocked], signing_key).status_code == 204
    assert customer_of_message(sent_email).invalid_channels == []


def test_a_hard_bounce_flags_the_email(tenant_a, sent_email, signing_key):
    bounce = event(sent_email, "bounce", type="bounce", reason="550 5.1.1 unknown user")
    assert post_events(tenant_a, [bounce], signing_key).status_code == 204
    assert customer_of_message(sent_email).invalid_channels == ["email"]


# --- Reports that settle a send whose answer never came --------------------------------------


def make_unknown(message):
    """As if the provider's answer to the send had never come: no id recorded, outcome unknown."""
    with scopes_disabled():
        Message.objects.filter(pk=message.pk).update(
            status=MessageStatus.UNKNOWN, provider_message_id="", error="Outcome unknown: reset"
        )


def test_a_signed_sendgrid_event_settles_an_unknown_email(tenant_a, sent_email, signing_key):
    sg_id = sent_email.provider_message_id
    make_unknown(sent_email)
    batch = [event(sent_email, "processed"), event(sent_email, "delivered")]
    assert post_events(tenant_a, batch, signing_key).status_code == 204
    message = reload(sent_email)
    assert message.provider_message_id == sg_id
    assert message.status == MessageStatus.DELIVERED
    assert "email: unknown → sent" in status_entries(tenant_a, sent_email)


def test_a_twilio_status_report_naming_the_ref_settles_an_unknown_sms(tenant_a, sent_sms):
    sid = sent_sms.provider_message_id
    make_unknown(sent_sms)
    path = f"/webhooks/twilio/{tenant_a.slug}/status/?ref={sent_sms.ref}"
    params = {"MessageSid": sid, "MessageStatus": "sent", "To": sent_sms.recipient}
    signature = RequestValidator(TOKEN).compute_signature(
        f"{settings.PUBLIC_BASE_URL}{path}", params
    )
    assert Client().post(path, params, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 204
    message = reload(sent_sms)
    assert message.status == MessageStatus.SENT and message.provider_message_id == sid
    assert message.error == "Confirmed by Twilio's status report after an unknown outcome"
    # The same report unsigned for that URL changes nothing.
    make_unknown(sent_sms)
    assert Client().post(path, params, HTTP_X_TWILIO_SIGNATURE="forged").status_code == 403
    assert reload(sent_sms).status == MessageStatus.UNKNOWN
