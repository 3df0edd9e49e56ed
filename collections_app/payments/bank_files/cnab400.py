"""CNAB 400 return files: one detail record per movement, laid out as the bank in the header
does."""

from collections import Counter

from django.utils.translation import gettext as _

from collections_app.payments.bank_files.cnab import (
    any_recognised,
    cnab_amount,
    cnab_credit,
    cnab_date,
    cnab_field,
    describe_movement,
    fixed_width,
    is_blank,
    nothing_recognised,
    unknown_codes,
)
from collections_app.payments.bank_files.credits import (
    BankFile,
    BankFileError,
    NotPayment,
    account_token,
)
from collections_app.payments.bank_files.layouts import LAYOUTS_400


def cnab400_read(lines: list[tuple[int, str]]) -> BankFile:
    lines = fixed_width(lines, 400)
    number, header = lines[0]
    if cnab_field(header, 1, 1) != "0":
        raise BankFileError(_("Line 1: a CNAB 400 file starts with its header (type 0)."))
    bank = cnab_field(header, 77, 79)
    layout = LAYOUTS_400.get(bank)
    if layout is None:
        raise BankFileError(
            _("Line 1: bank %(bank)s is not supported for CNAB 400.") % {"bank": bank}
        )
    account = account_token(*(cnab_field(header, *at) for at in layout.account))
    result = BankFile(kind="cnab400", bank=bank)
    details, unknown = 0, Counter()
    for number, line in lines[1:]:
        where = _("Line %(n)s") % {"n": number}
        record = cnab_field(line, 1, 1)
        if record in ("0", "9"):
            continue
        details += 1
        if record not in layout.nosso_numero:
            # Banks' optional records (type 2 messages, type 4 or 5 apportionments…) carry
            # no movement of their own; a file made only of them is refused below.
            unknown[_("record type %(t)s") % {"t": record}] += 1
            continue
        _cnab400_title(result, layout, (bank, account), number, line, where)
    if not any_recognised(result, layout):
        raise nothing_recognised(details, unknown + unknown_codes(result))
    return result


def _cnab400_title(result, layout, bank_account, number, line, where) -> None:
    bank, account = bank_account
    code = cnab_field(line, *layout.code)
    raw_reference = cnab_field(line, *layout.nosso_numero[cnab_field(line, 1, 1)]).strip()
    reference = raw_reference.lstrip("0") or raw_reference
    amount = (
        cnab_amount(cnab_field(line, *layout.amount), where) if code in layout.payments else None
    )
    if not amount or amount < 0:
        result.not_payments.append(
            NotPayment(code, describe_movement(layout, code, amount), number, reference)
        )
        return
    # The date of the occurrence (for a liquidação, the day it was paid) and of the credit;
    # either stands in for the other when the bank left it blank.
    occurred, credited = cnab_field(line, *layout.occurred), cnab_field(line, *layout.credited)
    if is_blank(credited):
        credit_day = cnab_date(occurred, where)
    else:
        credit_day = cnab_date(credited, where, year_first=len(credited) == 8)
    paid_day = cnab_date(occurred, where) if not is_blank(occurred) else credit_day
    sequence = cnab_field(line, 395, 400)
    result.credits.append(
        cnab_credit(
            "cnab400",
            bank=bank,
            layout=layout,
            account=account,
            raw_reference=raw_reference,
            reference=reference,
            amount=amount,
            credit_day=credit_day,
            paid_day=paid_day,
            record=sequence,
        )
    )
