from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from babel.dates import format_date
from babel.numbers import format_currency

CENT = Decimal("0.01")


def _babel_locale(locale: str) -> str:
    return "pt_BR" if locale.lower().startswith("pt") else "en_US"


def quantize(amount) -> Decimal:
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def format_money(amount, currency: str = "BRL", locale: str = "pt-br") -> str:
    """`R$ 1.234,50` in pt-BR (a plain space after the symbol), `R$1,234.50` in English."""
    text = format_currency(quantize(amount), currency, locale=_babel_locale(locale))
    return text.replace("\xa0", " ")


def format_day(day: date, locale: str = "pt-br") -> str:
    """`dd/mm/aaaa` in pt-BR; `mm/dd/yyyy` in English."""
    if locale.lower().startswith("pt"):
        return day.strftime("%d/%m/%Y")
    return format_date(day, "MM/dd/yyyy", locale="en_US")


MONTHS_PT = "jan fev mar abr mai jun jul ago set out nov dez".split()


def format_month(day: date, locale: str = "pt-br") -> str:
    """`nov/26` in pt-BR, `Nov 26` in English."""
    if locale.lower().startswith("pt"):
        return f"{MONTHS_PT[day.month - 1]}/{day:%y}"
    return day.strftime("%b %y")


def format_percent(fraction, locale: str = "pt-br") -> str:
    """A fraction as `41,7%` in pt-BR (`41.7%` in English); "—" for None."""
    if fraction is None:
        return "—"
    text = f"{float(fraction) * 100:.1f}%"
    return text.replace(".", ",") if locale.lower().startswith("pt") else text
