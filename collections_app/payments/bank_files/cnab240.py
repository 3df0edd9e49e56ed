"""CNAB 240 return files (FEBRABAN): the *cobrança* segments T and U of each title."""

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
from collections_app.payments.bank_files.layouts import FEBRABAN_LAYOUT_240, LAYOUTS_240


def cnab240_read(lines: list[tuple[int, str]]) -> BankFile:
    lines = fixed_width(lines, 240)
    bank = cnab_field(lines[0][1], 1, 3)
    layout = LAYOUTS_240.get(bank, FEBRABAN_LAYOUT_240)
    # The file header's convênio (33-52), agency and account with their check digits (53-72).
    account = account_token(cnab_field(lines[0][1], 33, 72))
    result = BankFile(kind="cnab240", bank=bank)
    pending_t, details, unknown_segments = None, 0, Counter()
    for record, (number, line) in enumerate(lines, 1):
        where = _("Line %(n)s") % {"n": number}
        if cnab_field(line, 8, 8) != "3":
            continue
        details += 1
        segment = cnab_field(line, 14, 14)
        if segment == "T":
            if pending_t is not None:
                raise BankFileError(
                    _("%(where)s: a segment T without its segment U.")
                    % {"where": _("Line %(n)s") % {"n": pending_t[0]}}
                )
            pending_t = (number, line, record)
        elif segment == "U":
            if pending_t is None:
                raise BankFileError(
                    _("%(where)s: a segment U without its segment T.") % {"where": where}
                )
            t_number, t_line, t_record = pending_t
            pending_t = None
            _cnab240_title(
                result, layout, (bank, account), (t_number, t_record), t_line, line, where
            )
        else:
            unknown_segments[_("segment %(s)s") % {"s": segment.strip() or "?"}] += 1
    if pending_t is not None:
        raise BankFileError(
            _("%(where)s: a segment T without its segment U.")
            % {"where": _("Line %(n)s") % {"n": pending_t[0]}}
        )
    if not any_recognised(result, layout):
        raise nothing_recognised(details, unknown_segments + unknown_codes(result))
    return result


def _cnab240_title(result, layout, bank_account, t_at, t_line, u_line, where) -> None:
    # t_at: segment T's line in the file (shown to people) and its place among the records
    # (in the key, so a copy of the file with blank lines in it is still the same file).
    t_number, t_record = t_at
    bank, account = bank_account
    code = cnab_field(t_line, 16, 17)
    raw_reference = cnab_field(t_line, *layout.nosso_numero).strip()
    reference = raw_reference.lstrip("0") or raw_reference
    amount = cnab_amount(cnab_field(u_line, 78, 92), where) if code in layout.payments else None
    if not amount or amount < 0:
        result.not_payments.append(
            NotPayment(code, describe_movement(layout, code, amount), t_number, reference)
        )
        return
    # Segment U: the date of the occurrence (the payment, 138-145) and of the credit
    # (146-153); either stands in for the other when the bank left it blank.
    occurred, credited = cnab_field(u_line, 138, 145), cnab_field(u_line, 146, 153)
    credit_day = cnab_date(credited if not is_blank(credited) else occurred, where)
    paid_day = cnab_date(occurred, where) if not is_blank(occurred) else credit_day
    result.credits.append(
        cnab_credit(
            "cnab240",
            bank=bank,
            layout=layout,
            account=account,
            raw_reference=raw_reference,
            reference=reference,
            amount=amount,
            credit_day=credit_day,
            paid_day=paid_day,
            record=str(t_record),
        )
    )
