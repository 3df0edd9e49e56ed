"""The generic payment-gateway webhook, `/webhooks/payments/<tenant>/`.

A gateway (or the tenant's own system) reports a payment as JSON:

    {"id": "evt_123", "invoice": "NF-42" | "txid": "RG…" , "amount": "123.45",
     "paid_at": "2026-12-01T14:03:00-03:00"}

signed with the tenant's secret (`payment_webhook_secret`): the header
`X-Regua-Signature: sha256=<hex>` carries HMAC-SHA256 over `<X-Regua-Timestamp>.<raw body>`,
where the timestamp is Unix seconds, at most 5 minutes old. A missing or wrong signature gets
403; `id` is the payment's external id, so a replayed notification records nothing twice."""

import hmac
import json
import time
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError
from django.http import JsonResponse
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_scopes import scope

from collections_app.models import Invoice, Payment, PaymentSource
from collections_app.payments.amounts import amount_refusal
from collections_app.payments.services import PaymentError, invoice_record_payment
from collections_app.signing import payment_signature
from tenants.models import Tenant

MAX_AGE_SECONDS = 300


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _authentic(request, secret: str) -> str | None:
    """None if the request is signed with `secret` and fresh, else why not."""
    timestamp = request.headers.get("X-Regua-Timestamp", "")
    signature = request.headers.get("X-Regua-Signature", "")
    if not timestamp or not signature:
        return "missing X-Regua-Timestamp or X-Regua-Signature"
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_AGE_SECONDS:
        return "stale or invalid timestamp"
    if not hmac.compare_digest(payment_signature(secret, timestamp, request.body), signature):
        return "bad signature"
    return None


@csrf_exempt
@require_POST
def payment_webhook(request, tenant: str):
    account = Tenant.objects.filter(slug=tenant).first()
    if account is None or not account.payment_webhook_secret:
        return _error(403, "payment notifications are not enabled for this account")
    refused = _authentic(request, account.payment_webhook_secret)
    if refused:
        return _error(403, refused)
    try:
        event = json.loads(request.body)
    except ValueError:
        return _error(400, "the body is not JSON")
    if not isinstance(event, dict):
        return _error(400, "the body must be a JSON object")
    event_id = str(event.get("id") or "").strip()
    if not event_id or len(event_id) > 100:
        return _error(400, "id: required, at most 100 characters")
    try:
        amount = Decimal(str(event.get("amount")))
    except (InvalidOperation, ValueError):
        return _error(400, 'amount: a decimal number such as "123.45" is required')
    if not amount.is_finite() or amount.as_tuple().exponent < -2:
        return _error(400, "amount: at most two decimal places")
    # Bounded before anything is looked up or written (payments/amounts.py).
    if refused := amount_refusal(amount):
        return _error(400, f"amount: {refused}")
    paid_at = None
    if event.get("paid_at"):
        paid_at = parse_datetime(str(event["paid_at"]))
        if paid_at is None or paid_at.tzinfo is None:
            return _error(400, "paid_at: an ISO 8601 date and time with its UTC offset")
    with scope(tenant=account):
        invoice = _invoice_for(event)
        if invoice is None:
            return _error(404, "no invoice with that external id or Pix txid")
        try:
            payment, created = invoice_record_payment(
                tenant=account,
                invoice=invoice,
                amount=amount,
                paid_at=paid_at,
                external_id=f"gw:{event_id}",
                source=PaymentSource.GATEWAY,
            )
        except PaymentError as exc:
            return _error(400, str(exc))
        except IntegrityError:
            # The same notification, delivered twice at once: the other one recorded it.
            payment = Payment.objects.get(external_id=f"gw:{event_id}")
            created = False
    return JsonResponse(
        {"status": "recorded" if created else "duplicate", "payment": payment.pk},
        status=201 if created else 200,
    )


def _invoice_for(event: dict) -> Invoice | None:
    if event.get("invoice"):
        return Invoice.objects.filter(external_id=str(event["invoice"])).first()
    if event.get("txid"):
        return Invoice.objects.filter(pix_txid=str(event["txid"])).first()
    return None
