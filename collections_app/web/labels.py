"""What people read instead of the codes the models store: channels, message states, payment
sources, skip reasons, and the timeline's entries rendered from their data at display time.

Stored rows keep their codes (the API speaks codes); the pages and the CSV exports translate
them, here, so a label is chosen in one place."""

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from collections_app.engine.explain import EXPLAIN_REASONS
from collections_app.models import SKIP_REASONS, InteractionKind, PaymentSource
from collections_app.money import format_money
from messaging.attention import own_error_text
from messaging.models import Channel, MessageStatus

# "Import" alone is the verb on the import screens; a payment's source needs its own words.
PAYMENT_SOURCES = {
    PaymentSource.API: pgettext_lazy("payment source", "API"),
    PaymentSource.MANUAL: pgettext_lazy("payment source", "Manual entry"),
    PaymentSource.GATEWAY: pgettext_lazy("payment source", "Payment gateway"),
    PaymentSource.BANK_FILE: pgettext_lazy("payment source", "Bank return file"),
    PaymentSource.IMPORT: pgettext_lazy("payment source", "Spreadsheet import"),
    PaymentSource.AGREEMENT: pgettext_lazy("payment source", "Agreement instalment"),
}


# Why a queued message was cancelled, beyond the skip reasons (`cancel_queued_reminders`).
CANCEL_REASONS = {
    "invoice_paused": pgettext_lazy("cancel reason", "Reminders of the invoice paused"),
    "customer_paused": pgettext_lazy("cancel reason", "Reminders to the customer paused"),
    "in_agreement": pgettext_lazy("cancel reason", "Invoice replaced by an agreement"),
    "invoice_in_agreement": pgettext_lazy("cancel reason", "Invoice replaced by an agreement"),
}


def _choice(choices, code: str) -> str:
    try:
        return str(choices(code).label)
    except ValueError:
        return code or ""


def channel_label(code: str) -> str:
    """A channel's name: "email" → "E-mail"; a task step's "task" → "Tarefa"."""
    if code == "task":
        return _("Task")
    return _choice(Channel, code)


def message_status_label(code: str) -> str:
    return _choice(MessageStatus, code)


def payment_source_label(code: str) -> str:
    return str(PAYMENT_SOURCES.get(code, "")) or _choice(PaymentSource, code)


def reason_label(code: str) -> str:
    """A skip reason (the ledger's, the explanation's, a channel's), never its code."""
    if not code:
        return ""
    label = SKIP_REASONS.get(code) or EXPLAIN_REASONS.get(code) or CANCEL_REASONS.get(code)
    return str(label) if label else code.replace("_", " ").capitalize()


def interaction_text(interaction, *, currency: str = "BRL") -> str:
    """The words a timeline entry shows: from the entry's data where its stored summary
    carries codes (a payment's source, a channel, a status), else the summary itself."""
    kind, data = interaction.kind, interaction.data or {}
    summary = interaction.summary or ""
    if kind == InteractionKind.PAYMENT and data.get("amount") and data.get("source"):
        invoice = getattr(interaction, "invoice", None)
        money = format_money(
            data["amount"],
            getattr(invoice, "currency", None) or currency,
            translation.get_language() or "pt-br",
        )
        return f"{money} · {payment_source_label(data['source'])}"
    if kind == InteractionKind.CLICK and interaction.channel:
        return _("Payment page opened from the link sent by %(channel)s") % {
            "channel": channel_label(interaction.channel)
        }
    if kind == InteractionKind.MESSAGE_STATUS and data.get("to"):
        return (
            f"{channel_label(interaction.channel)}: "
            f"{message_status_label(data.get('from', ''))} → {message_status_label(data['to'])}"
        )
    if kind == "skip" and data.get("reason"):
        return reason_label(data["reason"])
    code = interaction.channel
    if code and summary.startswith(f"{code}:"):
        # "email: x@y recusado pelo provedor" → "E-mail: x@y recusado pelo provedor"
        return channel_label(code) + summary[len(code) :]
    return summary


def message_error_text(error: str) -> str:
    """A message's reason in words: messaging's own reasons translated, a provider's as it
    answered."""
    return own_error_text(error) or error or ""


def message_event_label(*, old: str, new: str, by_person: bool = False, late: bool = False) -> str:
    """The words for a move of a message's status that the timeline tells on its own (a retry,
    a reconciliation, a person's check), or "" for the ordinary ones (queued → sent → delivered),
    which the message's states already show. `late`: a move to `sent` recorded well after the
    send began, i.e. found at the provider by the upkeep after the worker was interrupted."""
    if by_person and new == MessageStatus.SENT:
        return _("Marked as sent after a check at the provider")
    if by_person and new == MessageStatus.QUEUED:
        return _("Marked as not sent after a check at the provider: sent once more")
    if by_person and new == MessageStatus.FAILED:
        return _("Marked as not sent after a check at the provider")
    if new == MessageStatus.UNKNOWN:
        return _("Outcome uncertain — awaiting verification")
    if new == MessageStatus.QUEUED and old == MessageStatus.SENDING:
        return _("Retry scheduled")
    if new == MessageStatus.QUEUED and old == MessageStatus.UNKNOWN:
        return _("Not found at the provider after an interruption: sent once more")
    if new == MessageStatus.SENT and (old == MessageStatus.UNKNOWN or late):
        return _("Confirmed at the provider after an interruption")
    if new in (MessageStatus.FAILED, MessageStatus.UNDELIVERED) and old == MessageStatus.UNKNOWN:
        return _("Not confirmed at the provider after an interruption")
    return ""
