"""An amount of money an agent types in a form: 99,90 · 99.90 · 1.234,56 · 1234.56 · R$ 50.

Read with the spreadsheet import's Babel-based reader (`column_formats.read_number`), the
symbols chosen from the value itself (`column_formats.number_kind`): with both a point and a
comma, the last one is the decimal separator; with one followed by one or two digits, it is.
A single separator followed by exactly three digits (1.234, 1,234) reads both ways; the
separator the agent's language groups thousands with is taken as grouping (in pt-BR 1.234 is
one thousand two hundred thirty-four, as Brazilians type it), and the other is refused, as
is anything with more than two decimals: money is never guessed."""

import re
from decimal import Decimal

from django.utils.translation import get_language
from django.utils.translation import gettext as _

from collections_app.imports.column_formats import EN_US, PT_BR, number_kind, read_number
from collections_app.payments.amounts import AMOUNT_MAX, amount_max_message

_ONE_GROUP = re.compile(r"[+-]?[1-9]\d{0,2}([.,])\d{3}")


class AmountError(ValueError):
    """Not an amount of money, with the reason in the user's language."""


def typed_amount(raw: str) -> Decimal:
    """The positive amount `raw` says, at most `payments/amounts.AMOUNT_MAX`. Raises
    AmountError."""
    text = (raw or "").strip().replace("\xa0", " ")
    bare = re.sub(r"^(?:R\$|US\$|\$)\s*", "", text)
    ambiguous = _ONE_GROUP.fullmatch(bare)
    if ambiguous:
        grouping = "," if (get_language() or "").lower().startswith("en") else "."
        if ambiguous.group(1) != grouping:
            raise AmountError(
                _("“%(raw)s” can be read two ways: type it with its cents, such as %(example)s.")
                % {"raw": text, "example": "1,234.00" if grouping == "," else "1.234,00"}
            )
        locale = PT_BR if grouping == "." else EN_US
    else:
        locale = number_kind(text) or PT_BR
    try:
        amount = read_number(text, locale)
    except ValueError:
        amount = None
    # NaN and Infinity read as numbers, and compare only with an error: refused first.
    if amount is None or not amount.is_finite() or amount <= 0:
        raise AmountError(_("Type the amount, such as 1.234,50."))
    if amount != amount.quantize(Decimal("0.01")):
        raise AmountError(_("Type the amount, such as 1.234,50."))
    if amount > AMOUNT_MAX:
        raise AmountError(amount_max_message())
    return amount.quantize(Decimal("0.01"))
