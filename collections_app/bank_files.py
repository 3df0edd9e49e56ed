"""Reading bank files: CNAB 240 and CNAB 400 return files (*retorno*) and OFX statements, into
the credits they report.

- **CNAB 240** (FEBRABAN): detail records (type 3) of the *cobrança* segments T and U. T carries
  the movement code and the nosso número, and the U after it the amount paid and the dates.
  Movements 06 (liquidação) and 17 (liquidação após baixa) are payments; the others (entries,
  rejections, write-offs) are not credits.
- **CNAB 400**: one detail record (type 1) per movement. The movement code (06 liquidação),
  the date and the amount paid sit at the same positions for the large banks, but the nosso
  número does not: it is read at the positions of the bank named in the header (Itaú 341,
  Bradesco 237, Banco do Brasil 001, Santander 033, Caixa 104).
- **OFX**: every `<STMTTRN>` with a positive amount is a credit, its FITID its identity. A Pix
  txid of ours in its memo names the invoice.

A line that cannot be read stops the file with its line number: nothing is recorded from a file
that is not understood."""

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

TXID_RE = re.compile(r"\bRG[A-Z0-9]{23}\b")
PAID_MOVEMENTS_240 = {"06", "17"}
PAID_MOVEMENTS_400 = {"06", "07", "08"}  # liquidação normal, por conta, em cartório
# CNAB 400: where each bank puts the nosso número (1-based, inclusive).
NOSSO_NUMERO_400 = {
    "341": (63, 70),  # Itaú
    "237": (71, 82),  # Bradesco
    "001": (64, 80),  # Banco do Brasil
    "033": (63, 70),  # Santander
    "104": (57, 73),  # Caixa
}


class BankFileError(ValueError):
    """A file that cannot be read, with the reason and the line."""


@dataclass(frozen=True)
class Credit:
    key: str  # unique across imports of the same account
    amount: Decimal
    credited_on: date
    reference: str = ""  # nosso número
    txid: str = ""
    description: str = ""


def bank_file_parse(content: bytes) -> tuple[str, list[Credit]]:
    """The file's kind ("ofx", "cnab240", "cnab400") and its credits."""
    text = content.decode("latin-1")
    if "<OFX>" in text.upper() or "OFXHEADER" in text.upper():
        return "ofx", _ofx(text)
    lines = [line.rstrip("\r") for line in text.split("\n") if line.strip()]
    if not lines:
        raise BankFileError(_("The file is empty."))
    width = len(lines[0])
    if width == 240:
        return "cnab240", _cnab240(lines)
    if width == 400:
        return "cnab400", _cnab400(lines)
    raise BankFileError(
        _(
            "Not a CNAB 240 or 400 return file nor an OFX statement (its first line has "
            "%(width)s characters)."
        )
        % {"width": width}
    )


def _field(line: str, start: int, end: int) -> str:
    """Positions as the layouts give them: 1-based, inclusive."""
    return line[start - 1 : end]


def _money(raw: str, where: str) -> Decimal:
    if not raw.strip().isdigit():
        raise BankFileError(
            _("%(where)s: the amount “%(raw)s” is not a number.") % {"where": where, "raw": raw}
        )
    return Decimal(int(raw)) / 100


def _day(raw: str, where: str) -> date:
    raw = raw.strip()
    try:
        if len(raw) == 8:
            return date(int(raw[4:8]), int(raw[2:4]), int(raw[0:2]))
        if len(raw) == 6:
            return date(2000 + int(raw[4:6]), int(raw[2:4]), int(raw[0:2]))
    except ValueError:
        pass
    raise BankFileError(
        _("%(where)s: the date “%(raw)s” is not a date.") % {"where": where, "raw": raw}
    )


def _cnab240(lines: list[str]) -> list[Credit]:
    credits, pending_t = [], None
    bank = _field(lines[0], 1, 3)
    for number, line in enumerate(lines, 1):
        where = _("Line %(n)s") % {"n": number}
        if len(line) != 240:
            raise BankFileError(
                _("%(where)s: has %(n)s characters, CNAB 240 needs 240.")
                % {"where": where, "n": len(line)}
            )
        if _field(line, 8, 8) != "3":
            continue
        segment = _field(line, 14, 14)
        if segment == "T":
            pending_t = (number, line)
        elif segment == "U":
            if pending_t is None:
                raise BankFileError(
                    _("%(where)s: a segment U without its segment T.") % {"where": where}
                )
            t_number, t_line = pending_t
            pending_t = None
            if _field(t_line, 16, 17) not in PAID_MOVEMENTS_240:
                continue
            reference = _field(t_line, 38, 57).strip()
            # The credit date, or the payment date when the bank left it blank.
            credited = _field(line, 146, 153)
            day = _day(credited if credited.strip("0 ") else _field(line, 138, 145), where)
            credits.append(
                Credit(
                    key=f"cnab240:{bank}:{reference}:{day.isoformat()}:{t_number}",
                    amount=_money(_field(line, 78, 92), where),
                    credited_on=day,
                    reference=reference.lstrip("0") or reference,
                    description=f"CNAB 240 {bank} nosso número {reference}",
                )
            )
    return credits


def _cnab400(lines: list[str]) -> list[Credit]:
    header = lines[0]
    if _field(header, 1, 1) != "0":
        raise BankFileError(_("Line 1: a CNAB 400 file starts with its header (type 0)."))
    bank = _field(header, 77, 79)
    if bank not in NOSSO_NUMERO_400:
        raise BankFileError(
            _("Line 1: bank %(bank)s is not supported for CNAB 400.") % {"bank": bank}
        )
    start, end = NOSSO_NUMERO_400[bank]
    credits = []
    for number, line in enumerate(lines, 1):
        where = _("Line %(n)s") % {"n": number}
        if len(line) != 400:
            raise BankFileError(
                _("%(where)s: has %(n)s characters, CNAB 400 needs 400.")
                % {"where": where, "n": len(line)}
            )
        if _field(line, 1, 1) != "1" or _field(line, 109, 110) not in PAID_MOVEMENTS_400:
            continue
        reference = _field(line, start, end).strip()
        day = _day(_field(line, 111, 116), where)
        credits.append(
            Credit(
                key=f"cnab400:{bank}:{reference}:{day.isoformat()}:{_field(line, 395, 400)}",
                amount=_money(_field(line, 254, 266), where),
                credited_on=day,
                reference=reference.lstrip("0") or reference,
                description=f"CNAB 400 {bank} nosso número {reference}",
            )
        )
    return credits


def _tag(block: str, name: str) -> str:
    match = re.search(rf"<{name}>([^<\r\n]*)", block, re.IGNORECASE)
    return match.group(1).strip() if match else ""


def _ofx(text: str) -> list[Credit]:
    credits = []
    blocks = re.findall(
        r"<STMTTRN>(.*?)(?:</STMTTRN>|(?=<STMTTRN>)|</BANKTRANLIST>)", text, re.S | re.I
    )
    for number, block in enumerate(blocks, 1):
        where = _("Transaction %(n)s") % {"n": number}
        raw_amount = _tag(block, "TRNAMT").replace(",", ".")
        try:
            amount = Decimal(raw_amount)
        except InvalidOperation:
            raise BankFileError(
                _("%(where)s: the amount “%(raw)s” is not a number.")
                % {"where": where, "raw": raw_amount}
            ) from None
        if amount <= 0:
            continue
        posted = _tag(block, "DTPOSTED")[:8]
        if not (len(posted) == 8 and posted.isdigit()):
            raise BankFileError(
                _("%(where)s: the date “%(raw)s” is not a date.") % {"where": where, "raw": posted}
            )
        try:
            day = date(int(posted[:4]), int(posted[4:6]), int(posted[6:8]))
        except ValueError:
            raise BankFileError(
                _("%(where)s: the date “%(raw)s” is not a date.") % {"where": where, "raw": posted}
            ) from None
        fitid = _tag(block, "FITID")
        if not fitid:
            raise BankFileError(_("%(where)s: no FITID (the transaction's id).") % {"where": where})
        memo = " ".join(filter(None, (_tag(block, "NAME"), _tag(block, "MEMO"))))
        txid = TXID_RE.search(memo.upper())
        credits.append(
            Credit(
                key=f"ofx:{fitid}",
                amount=amount.quantize(Decimal("0.01")),
                credited_on=day,
                txid=txid.group(0) if txid else "",
                description=memo[:200],
            )
        )
    return credits
