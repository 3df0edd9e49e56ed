from decimal import Decimal

from django import template
from django.utils import timezone, translation

from collections_app.money import format_day, format_money, format_percent
from collections_app.web import labels
from collections_app.web import timeline as web_timeline

register = template.Library()


@register.filter
def money(value, currency: str = "BRL"):
    """`R$ 1.234,50` in pt-BR, `R$1,234.50` in English."""
    if value is None or value == "":
        return "—"
    return format_money(value, currency or "BRL", translation.get_language() or "pt-br")


@register.filter
def day(value):
    """`dd/mm/aaaa` in pt-BR."""
    if not value:
        return "—"
    if hasattr(value, "date") and callable(value.date):
        value = timezone.localtime(value).date()
    return format_day(value, translation.get_language() or "pt-br")


@register.filter
def percent(value):
    """A fraction as `41,7%` in pt-BR."""
    return format_percent(value, translation.get_language() or "pt-br")


@register.filter
def number(value, digits: int = 1):
    if value is None:
        return "—"
    text = f"{float(value):.{int(digits)}f}"
    lang = translation.get_language() or "pt-br"
    return text.replace(".", ",") if lang.startswith("pt") else text


@register.filter
def rate(value):
    """A percentage as set (2 → "2%", 0.0333 → "0,0333%"), with the locale's decimal mark."""
    if value is None or value == "":
        return "—"
    text = format(Decimal(value).normalize(), "f") + "%"
    lang = translation.get_language() or "pt-br"
    return text.replace(".", ",") if lang.startswith("pt") else text


# Labels instead of stored codes (issue 16: no internal code is shown to people).


@register.filter
def channel(code):
    """A channel's name: "email" → "E-mail"."""
    return labels.channel_label(code)


@register.filter
def channels(codes):
    """["email", "sms"] → "E-mail, SMS"."""
    return ", ".join(labels.channel_label(c) for c in codes or [])


@register.filter
def message_status(code):
    return labels.message_status_label(code)


@register.filter
def reason(code):
    """A skip or cancel reason's words."""
    return labels.reason_label(code)


@register.filter
def timeline_entries(interactions, owner=None):
    """The timeline's entries, each message once with its text and its states folded; with
    the page's invoice or customer, its messages not sent yet too."""
    return web_timeline.timeline_entries(interactions, owner)


@register.filter
def choice_label(choices, value):
    """The label of `value` in a list of (value, label) pairs, else the value itself."""
    return next((label for v, label in choices or () if v == value and label), value)


@register.filter
def interaction_text(interaction):
    """A timeline row's words, labels instead of the codes its stored summary may carry."""
    return labels.interaction_text(interaction)
