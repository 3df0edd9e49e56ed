"""Providers' delivery reports, at the URLs DESIGN.md fixes.

`/webhooks/twilio/<tenant>/status/`: Twilio's status callback for SMS and WhatsApp. The
request must carry a valid `X-Twilio-Signature`, computed by Twilio over the URL it called and
the form fields with the auth token of the account that sent the message (the tenant's own
Twilio accounts, or the platform's); anything else gets 403 and changes nothing."""

from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_scopes import scope
from twilio.request_validator import RequestValidator

from tenants.models import Tenant

from .models import MessageStatus, ProviderAccount, ProviderKind
from .providers.twilio import PERMANENT_CODES
from .services import message_status_report

TWILIO_STATUSES = {
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "failed": MessageStatus.FAILED,
    "undelivered": MessageStatus.UNDELIVERED,
}


def twilio_auth_tokens(*, tenant: Tenant) -> list[str]:
    """The auth tokens a genuine Twilio request for this tenant can be signed with."""
    tokens = []
    for account in ProviderAccount.objects.filter(
        provider__in=[ProviderKind.TWILIO_SMS, ProviderKind.TWILIO_WHATSAPP]
    ):
        token = account.credentials.get("auth_token")
        if token and token not in tokens:
            tokens.append(token)
    if settings.TWILIO_AUTH_TOKEN and settings.TWILIO_AUTH_TOKEN not in tokens:
        tokens.append(settings.TWILIO_AUTH_TOKEN)
    return tokens


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
        status = TWILIO_STATUSES.get(request.POST.get("MessageStatus", ""))
        if status is not None:
            code = request.POST.get("ErrorCode", "")
            error = ""
            if code:
                reason = PERMANENT_CODES.get(int(code)) if code.isdigit() else None
                error = f"Twilio {code}: {reason or request.POST.get('ErrorMessage', 'error')}"
            message_status_report(
                tenant=tenant,
                provider_message_id=request.POST.get("MessageSid", ""),
                status=status,
                error=error,
            )
    # Also for statuses we do not track (queued, sent) and unknown ids: Twilio must not retry.
    return HttpResponse(status=204)
