"""What CNAB 240 and 400 return files share: fixed-width records, their amounts and dates,
a credit built from a title, and the movements that are not payments."""

from collections import Counter
from datetime import date
from decimal import Decimal

from django.utils.translation import gettext as _

from collections_app.payments.amounts import AMOUNT_MAX, amount_max_message
from collections_app.payments.bank_files.credits import (
    BankFile,
    BankFileError,
    Credit,
    credit_key,
)
from collections_app.payments.bank_files.layouts import Layout240, Layout400


def cnab_field(line: str, start: int, end: int) -> str:
    """Positions as the layouts give them: 1-based, inclusive."""
    return line[start - 1 : end]


def fixed_width(lines: list[tuple[int, str]], width: int) -> list[tuple[int, str]]:
    """Each line at the layout's width: trimmed trailing spaces padded back; a header one
    character too long (a common writer's slip) cut; anything else too long refused."""
    fixed = []
    for index, (number, line) in enumerate(lines):
        if len(line) > width:
            extra = line[width:]
            if extra.strip() and not (index == 0 and len(line) == width + 1):
                message = (
                    _("%(where)s: has %(n)s characters, CNAB 240 needs 240.")
                    if width == 240
                    else _("%(where)s: has %(n)s characters, CNAB 400 needs 400.")
                )
                raise BankFileError(
                    message % {"where": _("Line %(n)s") % {"n": number}, "n": len(line)}
                )
            line = line[:width]
        fixed.append((number, line.ljust(width)))
    return fixed


def cnab_amount(raw: str, where: str) -> Decimal:
    if not raw.strip().isdigit():
        raise BankFileError(
            _("%(where)s: the amount “%(raw)s” is not a number.") % {"where": where, "raw": raw}
        )
    amount = (Decimal(int(raw)) / 100).quantize(Decimal("0.01"))
    if amount > AMOUNT_MAX:
        raise BankFileError(f"{where}: {amount_max_message()}")
    return amount


def cnab_date(raw: str, where: str, *, year_first: bool = False) -> date:
    raw = raw.strip()
    try:
        if len(raw) == 8 and year_first:
            return date(int(raw[0:4]), int(raw[4:6]), int(raw[6:8]))
        if len(raw) == 8:
            return date(int(raw[4:8]), int(raw[2:4]), int(raw[0:2]))
        if len(raw) == 6:
            return date(2000 + int(raw[4:6]), int(raw[2:4]), int(raw[0:2]))
    except ValueError:
        pass
    raise BankFileError(
        _("%(where)s: the date “%(raw)s” is not a date.") % {"where": where, "raw": raw}
    )


def is_blank(raw: str) -> bool:
    return not raw.strip("0 ")


def cnab_credit(
    kind: str,
    *,
    bank: str,
    layout: Layout240 | Layout400,
    account: str,
    raw_reference: str,
    reference: str,
    amount: Decimal,
    credit_day: date,
    paid_day: date,
    record: str,
) -> Credit:
    """A CNAB credit; its key names the account, its legacy key (bank, nosso número, credit
    day, record) is the one files imported before the account was part of it were kept by."""
    key_parts = (raw_reference, credit_day.isoformat(), record)
    return Credit(
        key=credit_key(kind, bank, account, *key_parts),
        legacy_key=":".join((kind, bank, *key_parts)),
        amount=amount,
        credited_on=credit_day,
        paid_on=paid_day,
        reference=reference,
        description=f"CNAB {kind[4:]} {layout.name} nosso número {raw_reference}",
    )


def describe_movement(layout, code: str, amount: Decimal | None) -> str:
    """The bank's words for a movement that is not a payment."""
    description = layout.codes.get(code)
    if description is None:
        return _("code not in the bank's table") if code.strip() else _("no code")
    if amount is not None:  # a payment code, but no money came with it
        return _("%(what)s, without an amount paid") % {"what": description}
    return description


def any_recognised(result: BankFile, layout) -> bool:
    """Whether any detail record is a movement of the bank's table (a payment or not)."""
    return bool(result.credits) or any(n.code in layout.codes for n in result.not_payments)


def unknown_codes(result: BankFile) -> Counter:
    return Counter(_("code %(c)s") % {"c": n.code.strip() or "?"} for n in result.not_payments)


def nothing_recognised(details: int, seen: Counter) -> BankFileError:
    """Detail records were read but none is a movement this reader knows."""
    if not details:
        return BankFileError(
            _("The file has no movement records (only headers and trailers): nothing to import.")
        )
    what = ", ".join(f"{value} ({n})" for value, n in seen.most_common(5))
    return BankFileError(
        _(
            "The file has %(n)s detail records but none is a cobrança movement this reader "
            "knows (%(what)s): nothing was imported."
        )
        % {"n": details, "what": what}
    )
