"""Reading bank files: CNAB 240 and CNAB 400 return files (*retorno*) and OFX statements, into
the credits they report and the movements that are not payments.

- **CNAB 240** (FEBRABAN): detail records (type 3) of the *cobrança* segments T and U. T carries
  the movement code and the nosso número, and the U after it the amount paid and the dates.
  Which codes are payments is the bank's table (`layouts.LAYOUTS_240`; FEBRABAN's 06 and
  17 for a bank not listed there).
- **CNAB 400**: one detail record per movement (type 1; Banco do Brasil also type 7). Where the
  movement code, the dates, the amount paid and the nosso número sit, and which codes are
  payments, is the layout of the bank named in the header (`layouts.LAYOUTS_400`).
- **OFX**: every `<STMTTRN>` with a positive amount is a credit, its FITID (unique within its
  account only) with the statement's BANKID, BRANCHID and ACCTID its identity. Amounts are
  read with the decimal separator the file's amounts show, never guessed (`ofx.py`). A
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

from django.utils.translation import gettext as _

from collections_app.payments.bank_files.cnab240 import cnab240_read
from collections_app.payments.bank_files.cnab400 import cnab400_read
from collections_app.payments.bank_files.credits import (
    BankFile,
    BankFileError,
    Credit,
    NotPayment,
    not_payments_summary,
)
from collections_app.payments.bank_files.ofx import ofx_read
from collections_app.payments.bank_files.text import LINE_BREAK, bank_file_text

__all__ = [
    "BankFile",
    "BankFileError",
    "Credit",
    "NotPayment",
    "bank_file_parse",
    "bank_file_read",
    "not_payments_summary",
]


def bank_file_parse(content: bytes) -> tuple[str, list[Credit]]:
    """The file's kind ("ofx", "cnab240", "cnab400") and its credits."""
    read = bank_file_read(content)
    return read.kind, read.credits


def bank_file_read(content: bytes) -> BankFile:
    """The whole reading of a file: its kind, bank, credits and the movements that are not
    payments. Raises BankFileError, with the line, for anything it cannot read."""
    text = bank_file_text(content)
    head = text.lstrip()[:4096].upper()
    if "<OFX>" in head or "OFXHEADER" in head or "<OFX>" in text.upper():
        return ofx_read(text)
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
        return cnab400_read(lines)
    # A CNAB 240 file header: bank, batch 0000, record type 0 (its tail may have been trimmed).
    if width in (240, 241) or (header[:3].isdigit() and header[7:8] == "0" and width < 240):
        return cnab240_read(lines)
    raise BankFileError(
        _(
            "Not a CNAB 240 or 400 return file nor an OFX statement (its first line has "
            "%(width)s characters)."
        )
        % {"width": len(header)}
    )
