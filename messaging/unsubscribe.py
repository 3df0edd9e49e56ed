"""One-click unsubscribe for e-mail (RFC 8058).

Every e-mail carries `List-Unsubscribe: <PUBLIC_BASE_URL/u/<token>/>` and
`List-Unsubscribe-Post: List-Unsubscribe=One-Click`. The token is the message's reference,
signed, so it cannot be guessed or forged. A mail client's one-click POST, or the button on the
page a person opens from the link, opts the customers the message was about out of e-mail
(through `hooks.contact_refused`, which the domain handles). Both are idempotent."""

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from django_scopes import scope, scopes_disabled

from messaging import hooks
from messaging.models import Message

SALT = "regua.unsubscribe"


def unsubscribe_url(message: Message) -> str:
    token = signing.dumps(message.ref, salt=SALT, compress=True)
    return f"{settings.PUBLIC_BASE_URL}{reverse('unsubscribe', args=[token])}"


def unsubscribe_headers(message: Message) -> dict[str, str]:
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(message)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def _message_for(token: str) -> Message:
    try:
        ref = signing.loads(token, salt=SALT)
    except signing.BadSignature as exc:
        raise Http404("Unknown link") from exc
    with scopes_disabled():
        message = Message.objects.select_related("tenant").filter(ref=ref).first()
    if message is None:
        raise Http404("Unknown link")
    return message


@csrf_exempt  # mail clients POST without a session; the signed token is the credential
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    message = _message_for(token)
    context = {"tenant": message.tenant, "done": False, "recipient": message.recipient}
    if request.method == "POST":
        with scope(tenant=message.tenant):
            hooks.contact_refused.send(
                sender=Message, message=message, reason="link de descadastro", opt_out=True
            )
        if request.POST.get("List-Unsubscribe") == "One-Click":
            return HttpResponse(status=200)  # a mail client: no page to show
        context["done"] = True
    response = render(request, "messaging/unsubscribe.html", context)
    response["X-Robots-Tag"] = "noindex"
    return response
