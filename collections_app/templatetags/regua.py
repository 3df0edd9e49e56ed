from decimal import Decimal

from django import template
from django.utils import timezone, translation

from collections_app.money import format_day, format_money, format_percent

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
