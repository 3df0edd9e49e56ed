"""Providers' delivery reports, at the URLs DESIGN.md fixes.

`/webhooks/twilio/<tenant>/status/`: Twilio's status callback for SMS and WhatsApp. The
request must carry a valid `X-Twilio-Signature`, computed by Twilio over the URL it called and
the form fields with the auth token of the account that sent the message (the tenant's own
Twilio accounts, or the platform's); anything else gets 403 and changes nothing.

`/webhooks/sendgrid/<tenant>/events/`: SendGrid's signed Event Webhook. The batch must carry an
ECDSA signature over its timestamp and body, valid for the verification key of the tenant's
SendGrid account (or the platform's), and a timestamp no older than SENDGRID_WEBHOOK_MAX_AGE:
a replayed old batch is refused. Within the window, a replay changes nothing, because reports
only move a message forward."""

import binascii
import json
import time

from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_scopes import scope
from sendgrid.helpers.eventwebhook import EventWebhook, EventWebhookHeader
from twilio.request_validator import RequestValidator

from messaging.delivery import message_status_report
from messaging.inbound import inbound_record
from messaging.models import MessageStatus, ProviderAccount, ProviderKind
from messaging.providers.twilio import CONTACT_CODES, OPT_OUT_CODES, PERMANENT_CODES
from messaging.upkeep import message_found
from tenants.models import Tenant

TWILIO_STATUSES = {
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "failed": MessageStatus.FAILED,
    "undelivered": MessageStatus.UNDELIVERED,
}


def account_secrets(*, providers: list[str], name: str, platform: str) -> list[str]:
    """The distinct values of credential `name` in the active scope's accounts of these
    providers, then the platform's: what a genuine provider request may be signed with."""
    values = [
        account.credentials.get(name)
        for account in ProviderAccount.objects.filter(provider__in=providers)
    ]
    return [value for value in dict.fromkeys([*values, platform]) if value]


def twilio_auth_tokens(*, tenant: Tenant) -> list[str]:
    return account_secrets(
        providers=[ProviderKind.TWILIO_SMS, ProviderKind.TWILIO_WHATSAPP],
        name="auth_token",
        platform=settings.TWILIO_AUTH_TOKEN,
    )


def twilio_signature_valid(request, *, tenant: Tenant) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    # Twilio signs the URL it was given, which is built from PUBLIC_BASE_URL.
    url = f"{settings.PUBLIC_BASE_URL}{request.get_full_path()}"
    params = request.POST.dict()
    return any(
        RequestValidator(token).validate(url, params, signature)
        for token in twilio_auth_tokens(tenant=tenant)
    )


@csrf_exempt
@require_POST
def twilio_status(request, tenant_slug: str):
    tenant = get_object_or_404(Tenant, slug=tenant_slug)
    with scope(tenant=tenant):
        if not twilio_signature_valid(request, tenant=tenant):
            return HttpResponseForbidden("Invalid Twilio signature")
        ref = request.GET.get("ref", "")
        if ref:
            # The callback URL carries the message's reference: any report about it proves
            # Twilio has it, which settles a send whose answer never came.
            message_found(
                tenant=tenant,
                ref=ref,
                provider_message_id=request.POST.get("MessageSid", ""),
                note="Confirmed by Twilio's status report after an unknown outcome",
            )
        status = TWILIO_STATUSES.get(request.POST.get("MessageStatus", ""))
        if status is not None:
            code = request.POST.get("ErrorCode", "")
            number = int(code) if code.isdigit() else 0
            error, refused = "", None
            if code:
                reason = PERMANENT_CODES.get(number) or request.POST.get("ErrorMessage", "error")
                error = f"Twilio {code}: {reason}"
            if number in CONTACT_CODES:
                refused = "opt_out" if number in OPT_OUT_CODES else "invalid"
            message_status_report(
                tenant=tenant,
                provider_message_id=request.POST.get("MessageSid", ""),
                status=status,
                error=error,
                refused=refused,
            )
    # Also for statuses we do not track (queued, sent) and unknown ids: Twilio must not retry.
    return HttpResponse(status=204)


EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@csrf_exempt
@require_POST
def twilio_inbound(request, tenant_slug: str):
    """A customer's SMS or WhatsApp message to one of the tenant's numbers. Recorded once per
    Twilio message id; the domain matches it to the customer (a reply in the timeline and a
    task, or an opt-out for STOP / SAIR / PARAR). Answers empty TwiML: any reply is sent by
    Régua itself, as a tracked message."""
    tenant = get_object_or_404(Tenant, slug=tenant_slug)
    with scope(tenant=tenant):
        if not twilio_signature_valid(request, tenant=tenant):
            return HttpResponseForbidden("Invalid Twilio signature")
        sender = request.POST.get("From", "")
        channel = "whatsapp" if sender.startswith("whatsapp:") else "sms"
        sid = request.POST.get("MessageSid", "")
        if sid and sender:
            inbound_record(
                tenant=tenant,
                channel=channel,
                sender=sender.removeprefix("whatsapp:"),
                body=request.POST.get("Body", ""),
                provider=(
                    ProviderKind.TWILIO_WHATSAPP
                    if channel == "whatsapp"
                    else ProviderKind.TWILIO_SMS
                ),
                provider_message_id=sid,
            )
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


# SendGrid event → message status. Other events (processed, deferred, click) change nothing.
SENDGRID_EVENTS = {
    "delivered": MessageStatus.DELIVERED,
    "open": MessageStatus.READ,
    "bounce": MessageStatus.FAILED,
    "dropped": MessageStatus.FAILED,
}


def sendgrid_public_keys(*, tenant: Tenant) -> list[str]:
    return account_secrets(
        providers=[ProviderKind.SENDGRID],
        name="webhook_public_key",
        platform=settings.SENDGRID_WEBHOOK_PUBLIC_KEY,
    )


def sendgrid_signature_valid(request, *, tenant: Tenant) -> bool:
    signature = request.headers.get(EventWebhookHeader.SIGNATURE, "")
    timestamp = request.headers.get(EventWebhookHeader.TIMESTAMP, "")
    if not signature or not timestamp.isdigit():
        return False
    if abs(time.time() - int(timestamp)) > settings.SENDGRID_WEBHOOK_MAX_AGE:
        return False
    payload = request.body.decode("utf-8", "replace")
    verifier = EventWebhook()
    for key in sendgrid_public_keys(tenant=tenant):
        try:
            public_key = verifier.convert_public_key_to_ecdsa(key)
            if verifier.verify_signature(payload, signature, timestamp, public_key=public_key):
                return True
        except (ValueError, TypeError, binascii.Error):  # a malformed key or signature
            continue
    return False


def _sendgrid_error(event: dict) -> str:
    kind = event.get("event")
    reason = event.get("reason") or event.get("response") or ""
    return f"SendGrid {kind}: {reason}".strip().rstrip(":") if kind in ("bounce", "dropped") else ""


@csrf_exempt
@require_POST
def sendgrid_events(request, tenant_slug: str):
    tenant = get_object_or_404(Tenant, slug=tenant_slug)
    with scope(tenant=tenant):
        if not sendgrid_signature_valid(request, tenant=tenant):
            return HttpResponseForbidden("Invalid or stale SendGrid signature")
        try:
            events = json.loads(request.body)
        except ValueError:
            return HttpResponse("The body is not JSON", status=400)
        if not isinstance(events, list):
            return HttpResponse("Expected a list of events", status=400)
        for event in events:
            if not isinstance(event, dict):
                continue
            if event.get("regua_ref") and event.get("sg_message_id"):
                # Any event about the message (processed, deferred, delivered…) proves SendGrid
                # has it, which settles a send whose answer never came.
                message_found(
                    tenant=tenant,
                    ref=str(event["regua_ref"]),
                    provider_message_id=str(event["sg_message_id"]).split(".")[0],
                    note="Confirmed by SendGrid's events after an unknown outcome",
                )
            status = SENDGRID_EVENTS.get(event.get("event"))
            if status is None:
                continue
            message_status_report(
                tenant=tenant,
                status=status,
                ref=str(event.get("regua_ref") or ""),
                provider_message_id=str(event.get("sg_message_id") or "").split(".")[0],
                error=_sendgrid_error(event),
                # A hard bounce: the mailbox does not exist. ("blocked" bounces are temporary.)
                refused="invalid"
                if event.get("event") == "bounce" and event.get("type", "bounce") == "bounce"
                else None,
            )
    return HttpResponse(status=204)
