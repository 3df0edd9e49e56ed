"""OFX statements: every positive `<STMTTRN>` is a credit, keyed by its account and FITID;
amounts read with the decimal separator the statement shows, never guessed."""

import bisect
import re
from datetime import date
from decimal import Decimal

from django.utils.translation import gettext as _

from collections_app.payments.amounts import AMOUNT_MAX, amount_max_message
from collections_app.payments.bank_files.credits import (
    BankFile,
    BankFileError,
    Credit,
    NotPayment,
    account_token,
    credit_key,
)
from collections_app.payments.bank_files.text import LINE_BREAK

TXID_RE = re.compile(r"\bRG[A-Z0-9]{23}\b")
BALANCE_LINE = re.compile(r"\s*SALDO\b", re.IGNORECASE)


def _tag(block: str, name: str) -> str:
    match = re.search(rf"<{name}>([^<\r\n]*)", block, re.IGNORECASE)
    return match.group(1).strip() if match else ""


_AMOUNT = re.compile(r"([+-]?)(\d[\d.,]*)")
_OTHER = {".": ",", ",": "."}


def _grouped(body: str, separator: str) -> bool:
    """Whether `body` is digits grouped by threes with `separator` (1.234 · 12.345.678)."""
    return re.fullmatch(rf"\d{{1,3}}(?:{re.escape(separator)}\d{{3}})+", body) is not None


def _amount_form(body: str) -> tuple[str | None, bool]:
    """(the decimal separator the amount shows, or None; whether it reads both ways, as
    1.234 does: one thousand two hundred thirty-four, or one and 234 thousandths). Raises
    ValueError for what is not an amount at all."""
    if "." in body and "," in body:
        decimal = "." if body.rfind(".") > body.rfind(",") else ","
        whole, _sep, cents = body.rpartition(decimal)
        if not (_grouped(whole, _OTHER[decimal]) or whole.isdigit()) or not cents.isdigit():
            raise ValueError(body)
        return decimal, False
    separator = "." if "." in body else "," if "," in body else None
    if separator is None:
        return None, False
    if body.count(separator) > 1:
        if not _grouped(body, separator):
            raise ValueError(body)
        return _OTHER[separator], False
    whole, _sep, tail = body.partition(separator)
    if not (whole.isdigit() and tail.isdigit()):
        raise ValueError(body)
    if len(tail) == 3 and _grouped(body, separator) and not whole.startswith("0"):
        return None, True  # 1.234 or 1,234: thousands or decimals, this amount can't say
    return separator, False


def _ofx_amounts(raws: list[tuple[str, str]]) -> list[Decimal]:
    """The statement's amounts, read strictly. OFX writes the decimal separator as a point,
    or (some Brazilian banks) a comma: the file's separator is the one its amounts show, and
    a statement that shows both is refused. Dots grouping thousands (1.234,56) are read when
    the separator is the comma, commas (1,234.56) when it is the point; an amount that reads
    both ways (1.234) in a statement that never says which, or with more than two decimal
    places that count (1234.567), is refused with its line: never rounded nor guessed."""
    forms, seen = [], {}
    for raw, where in raws:
        match = _AMOUNT.fullmatch(raw.replace(" ", ""))
        try:
            if match is None:
                raise ValueError(raw)
            decimal, ambiguous = _amount_form(match.group(2))
        except ValueError:
            raise BankFileError(
                _("%(where)s: the amount “%(raw)s” is not a number.") % {"where": where, "raw": raw}
            ) from None
        forms.append((match.group(1), match.group(2), ambiguous))
        if decimal is not None and decimal not in seen:
            seen[decimal] = (raw, where)
    if len(seen) > 1:
        (point, point_at), (comma, comma_at) = seen["."], seen[","]
        raise BankFileError(
            _(
                "The statement writes its amounts in two ways, nothing was imported — "
                "%(point_at)s: “%(point)s”, with a decimal point; %(comma_at)s: “%(comma)s”, "
                "with a decimal comma."
            )
            % {"point": point, "point_at": point_at, "comma": comma, "comma_at": comma_at}
        )
    decimal = next(iter(seen), None)
    amounts = []
    for (sign, body, ambiguous), (raw, where) in zip(forms, raws, strict=True):
        if ambiguous and decimal is None:
            raise BankFileError(
                _(
                    "%(where)s: the amount “%(raw)s” may be read with thousands or with "
                    "decimals, and no other amount of the statement shows its decimal "
                    "separator: nothing was imported."
                )
                % {"where": where, "raw": raw}
            )
        if decimal is not None:
            body = body.replace(_OTHER[decimal], "").replace(decimal, ".")
        amount = Decimal(sign + body)
        if amount != amount.quantize(Decimal("0.01")):
            raise BankFileError(
                _("%(where)s: the amount “%(raw)s” has more than two decimal places.")
                % {"where": where, "raw": raw}
            )
        if amount > AMOUNT_MAX:
            raise BankFileError(f"{where}: {amount_max_message()}")
        amounts.append(amount.quantize(Decimal("0.01")))
    return amounts


STATEMENT_START = re.compile(r"<(?:STMTRS|CCSTMTRS)>", re.IGNORECASE)
TRANSACTION = re.compile(
    r"<STMTTRN>(.*?)(?:</STMTTRN>|(?=<STMTTRN>)|</BANKTRANLIST>)", re.S | re.IGNORECASE
)


def _ofx_accounts(text: str) -> list[tuple[int, str]]:
    """(where each statement starts, its account: bank, branch and account ids), in order.
    FITIDs are unique only within one account, so the account is part of each key."""
    starts = [m.start() for m in STATEMENT_START.finditer(text)] or [0]
    accounts = []
    for start, end in zip(starts, [*starts[1:], len(text)], strict=True):
        part = text[start:end]
        part = part[: m.start()] if (m := re.search(r"<STMTTRN>", part, re.I)) else part
        ids = (account_token(_tag(part, name)) for name in ("BANKID", "BRANCHID", "ACCTID"))
        accounts.append((start, ":".join(ids)))
    return accounts


def ofx_read(text: str) -> BankFile:
    result = BankFile(kind="ofx")
    blocks = list(TRANSACTION.finditer(text))
    if not blocks:
        raise BankFileError(_("The statement has no transactions: nothing to import."))
    line_ends = [m.end() for m in LINE_BREAK.finditer(text)]
    accounts = _ofx_accounts(text)
    starts = [start for start, _account_id in accounts]

    def where(number: int, block: re.Match, tag: str = "TRNAMT") -> str:
        """The line of the transaction's `tag` (of its start, without one)."""
        at = block.start(1) + max(block.group(1).upper().find(f"<{tag}>"), 0)
        line = bisect.bisect_right(line_ends, at) + 1
        return _("Line %(line)s (transaction %(n)s)") % {"line": line, "n": number}

    places = [where(number, block) for number, block in enumerate(blocks, 1)]
    amounts = _ofx_amounts(
        [(_tag(block.group(1), "TRNAMT"), at) for block, at in zip(blocks, places, strict=True)]
    )
    for number, (match, at, amount) in enumerate(zip(blocks, places, amounts, strict=True), 1):
        block = match.group(1)
        memo = " ".join(filter(None, (_tag(block, "NAME"), _tag(block, "MEMO"))))
        if BALANCE_LINE.match(memo):
            # Some banks (Itaú, Banco do Brasil) write the day's balance as a transaction.
            result.not_payments.append(NotPayment("SALDO", _("balance line"), number))
            continue
        if amount <= 0:
            result.not_payments.append(
                NotPayment(
                    _tag(block, "TRNTYPE").upper() or "DEBIT",
                    _("debit or zero amount"),
                    number,
                )
            )
            continue
        posted = _tag(block, "DTPOSTED")[:8]
        if not (len(posted) == 8 and posted.isdigit()):
            raise BankFileError(
                _("%(where)s: the date “%(raw)s” is not a date.")
                % {"where": where(number, match, "DTPOSTED"), "raw": posted}
            )
        try:
            day = date(int(posted[:4]), int(posted[4:6]), int(posted[6:8]))
        except ValueError:
            raise BankFileError(
                _("%(where)s: the date “%(raw)s” is not a date.")
                % {"where": where(number, match, "DTPOSTED"), "raw": posted}
            ) from None
        fitid = _tag(block, "FITID")
        if not fitid:
            raise BankFileError(_("%(where)s: no FITID (the transaction's id).") % {"where": at})
        account = accounts[max(bisect.bisect_right(starts, match.start()) - 1, 0)][1]
        txid = TXID_RE.search(memo.upper())
        result.credits.append(
            Credit(
                key=credit_key("ofx", account, fitid),
                legacy_key=f"ofx:{fitid}",
                amount=amount,
                credited_on=day,
                paid_on=day,
                txid=txid.group(0) if txid else "",
                description=memo[:200],
            )
        )
    return result
