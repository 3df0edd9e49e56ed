"""Spreadsheets in and out.

In: a CSV or XLSX file as finance teams export it, read as a header and rows of text. CSV comes
as UTF-8 (with or without the BOM Excel writes), UTF-16 (Excel's "Unicode text") or
Windows-1252 (Excel's CSV on a Brazilian Windows), with `;`, `,`, tab or `|` between the
columns — found by which of them splits the first lines into the same number of columns — and
Excel's `sep=;` first line honoured. XLSX cells keep what they are: a date cell becomes an ISO
date, a number its plain digits. What the text means (dates, amounts) is read later, a whole
column at a time (`column_formats`).

Out: CSV files people open in a spreadsheet: a cell that starts like a formula (`=`, `+`, `-`,
`@`, a tab or a carriage return) is run by Excel or LibreOffice. Debtors write some of the text
Régua exports (replies, notes on a payment claim), so such a cell gets a leading apostrophe,
which spreadsheets read as "this is text". Numbers, negative ones included, are left alone."""

import codecs
import csv
import io
import re
from datetime import date, datetime, time

from django.utils.translation import gettext as _

MAX_ROWS = 500_000
DELIMITERS = (";", "\t", ",", "|")
_SNIFF_LINES = 50


class ImportFileError(ValueError):
    """A file that cannot be read as a table, with the reason."""


def read_table(filename: str, content: bytes) -> tuple[list[str], list[list[str]]]:
    """The header and the rows (as text) of a CSV or XLSX file. Raises ImportFileError."""
    if content[:4] == b"PK\x03\x04" or (filename.lower().endswith(".xlsx") and content):
        headers, rows = _read_xlsx(content)
    else:
        _refuse_other_formats(content)
        headers, rows = _read_csv(_decode(content))
    if len(rows) > MAX_ROWS:
        raise ImportFileError(_("At most %(n)s rows per file.") % {"n": MAX_ROWS})
    return headers, rows


def _refuse_other_formats(content: bytes) -> None:
    if content.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(
            _("This is an old Excel file (.xls): save it as .xlsx or CSV and upload it again.")
        )
    if content.startswith(b"%PDF"):
        raise ImportFileError(_("This is a PDF, not a spreadsheet: upload a CSV or XLSX file."))


def _decode(content: bytes) -> str:
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return content.decode("utf-16")
        except UnicodeDecodeError:
            pass
    elif b"\x00" in content[:4096]:
        raise ImportFileError(_("This is not a text file: upload a CSV or XLSX file."))
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        # Excel on a Brazilian Windows; its five unused bytes are read as Latin-1 instead.
        return content.decode("cp1252")
    except UnicodeDecodeError:
        return content.decode("latin-1")


def _delimiter(lines: list[str]) -> str:
    """The delimiter that splits the first lines into as many columns as the header, each."""

    def score(delimiter: str) -> tuple[int, int]:
        rows = list(csv.reader(lines, delimiter=delimiter))
        width = len(rows[0])
        if width < 2:
            return (0, 0)
        return (sum(1 for row in rows[1:] if len(row) == width), width)

    return max(DELIMITERS, key=score)


def _read_csv(text: str) -> tuple[list[str], list[list[str]]]:
    if not text.strip():
        raise ImportFileError(_("The file is empty."))
    lines = text.splitlines()
    delimiter = None
    hint = re.fullmatch(r'"?sep=(.)"?', lines[0].strip())
    if hint:  # Excel's own "sep=;" line
        delimiter = hint[1]
        text = text.split("\n", 1)[1] if "\n" in text else ""
        lines = lines[1:]
    sample = [line for line in lines[:_SNIFF_LINES] if line.strip()]
    if not sample:
        raise ImportFileError(_("The file is empty."))
    delimiter = delimiter or _delimiter(sample)
    rows = [
        row
        for row in csv.reader(io.StringIO(text), delimiter=delimiter)
        if any(c.strip() for c in row)
    ]
    if not rows:  # separators only
        raise ImportFileError(_("The file is empty."))
    if len(rows[0]) < 2:
        raise ImportFileError(
            _("Only one column was found: separate the columns with ;, a comma or a tab.")
        )
    return [h.strip() for h in rows[0]], rows[1:]


def _xlsx_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        # A date cell (Excel keeps dates as day numbers; openpyxl gives them back as dates).
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # The shortest text that is the same number, without an exponent: 250.5, 45321
        text = f"{value:f}".rstrip("0").rstrip(".") if abs(value) < 1e15 else repr(value)
        return text if text not in ("", "-") else "0"
    return str(value)


def _read_xlsx(content: bytes) -> tuple[list[str], list[list[str]]]:
    from openpyxl import load_workbook

    try:
        sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).active
        rows = []
        for values in sheet.iter_rows(values_only=True):
            cells = [_xlsx_text(v) for v in values]
            if any(c.strip() for c in cells):
                rows.append(cells)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise ImportFileError(_("This is not a readable XLSX file.")) from exc
    if not rows:
        raise ImportFileError(_("The file is empty."))
    return [h.strip() for h in rows[0]], rows[1:]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+([.,]\d+)?")


def cell_safe(value):
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def row_safe(row) -> list:
    return [cell_safe(value) for value in row]
