"""Reading bank files: CNAB 240 and CNAB 400 return files (*retorno*) and OFX statements, into
the credits they report and the movements that are not payments.

- **CNAB 240** (FEBRABAN): detail records (type 3) of the *cobrança* segments T and U. T carries
  the movement code and the nosso número, and the U after it the amount paid and the dates.
  Which codes are payments is the bank's table (`bank_layouts.LAYOUTS_240`; FEBRABAN's 06 and
  17 for a bank not listed there).
- **CNAB 400**: one detail record per movement (type 1; Banco do Brasil also type 7). Where the
  movement code, the dates, the amount paid and the nosso número sit, and which codes are
  payments, is the layout of the bank named in the header (`bank_layouts.LAYOUTS_400`).
- **OFX**: every `<STMTTRN>` with a positive amount is a credit, its FITID (unique within its
  account only) with the statement's BANKID, BRANCHID and ACCTID its identity. Amounts are
  read with the decimal separator the file's amounts show, never guessed (`_ofx_amounts`). A
  Pix txid of ours in its memo names the invoice.

A CNAB credit's identity names the account too (the header's agency, account, convênio), and
carries both dates: the day the debtor paid (data da ocorrência), which the payment is dated
by, and the day the money was credited.

A movement that is not a payment (an entry, a rejection, a write-off, a fee, a code the bank's
table does not list) is kept in `BankFile.not_payments` with its code and the bank's words, so
the import can say so. Files come as banks and people's tools leave them: trailing spaces
trimmed, CRLF, LF or CR, Latin-1/Windows-1252 or UTF-8, an EOF byte (0x1A), blank lines, a
header one character longer than the layout. A line that cannot be read stops the file with its
line number, and so does a file whose detail records are all unknown: nothing is recorded from a
file that is not understood."""

import bisect
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from collections_app.payments.bank_layouts import (
    FEBRABAN_LAYOUT_240,
    LAYOUTS_240,
    LAYOUTS_400,
    Layout240,
    Layout400,
)

TXID_RE = re.compile(r"\bRG[A-Z0-9]{23}\b")
LINE_BREAK = re.compile(r"\r\n|\r|\n")
BALANCE_LINE = re.compile(r"\s*SALDO\b", re.IGNORECASE)
EOF = "\x1a"  # DOS end-of-file mark some banks' systems still append


class BankFileError(ValueError):
    """A file that cannot be read, with the reason and the line."""


@dataclass(frozen=True)
class Credit:
    key: str  # unique across imports: names the account (bank, agency, account, convênio)
    amount: Decimal
    credited_on: date  # the day the money reached the account
    reference: str = ""  # nosso número
    txid: str = ""
    description: str = ""
    # The day the debtor paid (CNAB's data da ocorrência): a boleto paid on its due date is
    # credited a day or two later, and is not late. OFX knows only the day it was posted.
    paid_on: date | None = None
    # The key the same credit had before keys named the account: a file imported then is
    # still recognised when imported again.
    legacy_key: str = ""


@dataclass(frozen=True)
class NotPayment:
    """A movement of the file that moves no money to the account: listed, never dropped."""

    code: str
    description: str
    line: int
    reference: str = ""


@dataclass
class BankFile:
    kind: str  # "ofx" | "cnab240" | "cnab400"
    bank: str = ""  # the bank's code in the header (CNAB)
    credits: list[Credit] = field(default_factory=list)
    not_payments: list[NotPayment] = field(default_factory=list)

    def not_payments_by_code(self) -> list[tuple[str, str, int]]:
        """(code, description, how many), in the order the codes first appear."""
        counts = Counter((n.code, n.description) for n in self.not_payments)
        return [(code, description, n) for (code, description), n in counts.items()]


def not_payments_summary(counts: list[tuple[str, str, int]]) -> str:
    """For the import's result: "3 records were not payments: 02 (Entrada confirmada) ×2,
    09 (Baixa) ×1." — or "" when every record was a payment."""
    if not counts:
        return ""
    total = sum(n for _code, _description, n in counts)
    listed = ", ".join(f"{code} ({description}) ×{n}" for code, description, n in counts)
    return ngettext(
        "%(n)s record was not a payment: %(listed)s.",
        "%(n)s records were not payments: %(listed)s.",
        total,
    ) % {"n": total, "listed": listed}


def bank_file_parse(content: bytes) -> tuple[str, list[Credit]]:
    """The file's kind ("ofx", "cnab240", "cnab400") and its credits."""
    read = bank_file_read(content)
    return read.kind, read.credits


def bank_file_read(content: bytes) -> BankFile:
    """The whole reading of a file: its kind, bank, credits and the movements that are not
    payments. Raises BankFileError, with the line, for anything it cannot read."""
    text = _decode(content)
    head = text.lstrip()[:4096].upper()
    if "<OFX>" in head or "OFXHEADER" in head or "<OFX>" in text.upper():
        return _ofx(text)
    lines = [(n, line) for n, line in enumerate(LINE_BREAK.split(text), 1) if line.strip()]
    if not lines:
        raise BankFileError(_("The file is empty."))
    number, header = lines[0]
    if header.startswith("01REMESSA") or (header[7:8] == "0" and header[142:143] == "1"):
        raise BankFileError(
            _("Line %(n)s: this is a remessa file (the one sent to the bank), not a return file.")
            % {"n": number}
        )
    width = len(header.rstrip()) if len(header.rstrip()) > 240 else len(header)
    if header[:9] == "02RETORNO" or width in (400, 401):
        return _cnab400(lines)
    # A CNAB 240 file header: bank, batch 0000, record type 0 (its tail may have been trimmed).
    if width in (240, 241) or (header[:3].isdigit() and header[7:8] == "0" and width < 240):
        return _cnab240(lines)
    raise BankFileError(
        _(
            "Not a CNAB 240 or 400 return file nor an OFX statement (its first line has "
            "%(width)s characters)."
        )
        % {"width": len(header)}
    )


def _decode(content: bytes) -> str:
    """UTF-8 when the bytes are UTF-8 (an accent then takes one column, as it should),
    else Windows-1252, else Latin-1 (which never fails)."""
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    for encoding in ("utf-8", "cp1252"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        text = content.decode("latin-1")
    return text.replace(EOF, "")


def _field(line: str, start: int, end: int) -> str:
    """Positions as the layouts give them: 1-based, inclusive."""
    return line[start - 1 : end]


def _fixed(lines: list[tuple[int, str]], width: int) -> list[tuple[int, str]]:
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


def _money(raw: str, where: str) -> Decimal:
    if not raw.strip().isdigit():
        raise BankFileError(
            _("%(where)s: the amount “%(raw)s” is not a number.") % {"where": where, "raw": raw}
        )
    return (Decimal(int(raw)) / 100).quantize(Decimal("0.01"))


def _day(raw: str, where: str, *, year_first: bool = False) -> date:
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


def _blank(raw: str) -> bool:
    return not raw.strip("0 ")


KEY_MAX = 95  # "bank:" + key is the payment's external_id (100 characters at most)


def _key(*parts: str) -> str:
    """A credit's identity from its parts; a long one is shortened to a digest of all of
    them (never cut, which would make two credits one)."""
    key = ":".join(parts)
    if len(key) <= KEY_MAX:
        return key
    return f"{parts[0]}:sha256:{hashlib.sha256(key.encode()).hexdigest()[:48]}"


def _cnab_credit(
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
        key=_key(kind, bank, account, *key_parts),
        legacy_key=":".join((kind, bank, *key_parts)),
        amount=amount,
        credited_on=credit_day,
        paid_on=paid_day,
        reference=reference,
        description=f"CNAB {kind[4:]} {layout.name} nosso número {raw_reference}",
    )


def _account(*raws: str) -> str:
    """The header's agency, account and convênio as one token: letters and digits only, the
    run's leading zeros dropped ("" when the bank left them blank)."""
    return re.sub(r"[^0-9A-Za-z]", "", "".join(raws)).lstrip("0")


def _describe(layout, code: str, amount: Decimal | None) -> str:
    """The bank's words for a movement that is not a payment."""
    description = layout.codes.get(code)
    if description is None:
        return _("code not in the bank's table") if code.strip() else _("no code")
    if amount is not None:  # a payment code, but no money came with it
        return _("%(what)s, without an amount paid") % {"what": description}
    return description


def _recognised(result: BankFile, layout) -> bool:
    """Whether any detail record is a movement of the bank's table (a payment or not)."""
    return bool(result.credits) or any(n.code in layout.codes for n in result.not_payments)


def _unknown_codes(result: BankFile) -> Counter:
    return Counter(_("code %(c)s") % {"c": n.code.strip() or "?"} for n in result.not_payments)


def _nothing_recognised(details: int, seen: Counter) -> BankFileError:
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


def _cnab240(lines: list[tuple[int, str]]) -> BankFile:
    lines = _fixed(lines, 240)
    bank = _field(lines[0][1], 1, 3)
    layout = LAYOUTS_240.get(bank, FEBRABAN_LAYOUT_240)
    # The file header's convênio (33-52), agency and account with their check digits (53-72).
    account = _account(_field(lines[0][1], 33, 72))
    result = BankFile(kind="cnab240", bank=bank)
    pending_t, details, unknown_segments = None, 0, Counter()
    for record, (number, line) in enumerate(lines, 1):
        where = _("Line %(n)s") % {"n": number}
        if _field(line, 8, 8) != "3":
            continue
        details += 1
        segment = _field(line, 14, 14)
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
    if not _recognised(result, layout):
        raise _nothing_recognised(details, unknown_segments + _unknown_codes(result))
    return result


def _cnab240_title(result, layout, bank_account, t_at, t_line, u_line, where) -> None:
    # t_at: segment T's line in the file (shown to people) and its place among the records
    # (in the key, so a copy of the file with blank lines in it is still the same file).
    t_number, t_record = t_at
    bank, account = bank_account
    code = _field(t_line, 16, 17)
    raw_reference = _field(t_line, *layout.nosso_numero).strip()
    reference = raw_reference.lstrip("0") or raw_reference
    amount = _money(_field(u_line, 78, 92), where) if code in layout.payments else None
    if not amount or amount < 0:
        result.not_payments.append(
            NotPayment(code, _describe(layout, code, amount), t_number, reference)
        )
        return
    # Segment U: the date of the occurrence (the payment, 138-145) and of the credit
    # (146-153); either stands in for the other when the bank left it blank.
    occurred, credited = _field(u_line, 138, 145), _field(u_line, 146, 153)
    credit_day = _day(credited if not _blank(credited) else occurred, where)
    paid_day = _day(occurred, where) if not _blank(occurred) else credit_day
    result.credits.append(
        _cnab_credit(
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


def _cnab400(lines: list[tuple[int, str]]) -> BankFile:
    lines = _fixed(lines, 400)
    number, header = lines[0]
    if _field(header, 1, 1) != "0":
        raise BankFileError(_("Line 1: a CNAB 400 file starts with its header (type 0)."))
    bank = _field(header, 77, 79)
    layout = LAYOUTS_400.get(bank)
    if layout is None:
        raise BankFileError(
            _("Line 1: bank %(bank)s is not supported for CNAB 400.") % {"bank": bank}
        )
    account = _account(*(_field(header, *at) for at in layout.account))
    result = BankFile(kind="cnab400", bank=bank)
    details, unknown = 0, Counter()
    for number, line in lines[1:]:
        where = _("Line %(n)s") % {"n": number}
        record = _field(line, 1, 1)
        if record in ("0", "9"):
            continue
        details += 1
        if record not in layout.nosso_numero:
            # Banks' optional records (type 2 messages, type 4 or 5 apportionments…) carry
            # no movement of their own; a file made only of them is refused below.
            unknown[_("record type %(t)s") % {"t": record}] += 1
            continue
        _cnab400_title(result, layout, (bank, account), number, line, where)
    if not _recognised(result, layout):
        raise _nothing_recognised(details, unknown + _unknown_codes(result))
    return result


def _cnab400_title(result, layout, bank_account, number, line, where) -> None:
    bank, account = bank_account
    code = _field(line, *layout.code)
    raw_reference = _field(line, *layout.nosso_numero[_field(line, 1, 1)]).strip()
    reference = raw_reference.lstrip("0") or raw_reference
    amount = _money(_field(line, *layout.amount), where) if code in layout.payments else None
    if not amount or amount < 0:
        result.not_payments.append(
            NotPayment(code, _describe(layout, code, amount), number, reference)
        )
        return
    # The date of the occurrence (for a liquidação, the day it was paid) and of the credit;
    # either stands in for the other when the bank left it blank.
    occurred, credited = _field(line, *layout.occurred), _field(line, *layout.credited)
    if _blank(credited):
        credit_day = _day(occurred, where)
    else:
        credit_day = _day(credited, where, year_first=len(credited) == 8)
    paid_day = _day(occurred, where) if not _blank(occurred) else credit_day
    sequence = _field(line, 395, 400)
    result.credits.append(
        _cnab_credit(
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
        ids = (_account(_tag(part, name)) for name in ("BANKID", "BRANCHID", "ACCTID"))
        accounts.append((start, ":".join(ids)))
    return accounts


def _ofx(text: str) -> BankFile:
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
                key=_key("ofx", account, fitid),
                legacy_key=f"ofx:{fitid}",
                amount=amount,
                credited_on=day,
                paid_on=day,
                txid=txid.group(0) if txid else "",
                description=memo[:200],
            )
        )
    return result
