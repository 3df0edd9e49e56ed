"""Spreadsheets in and out.

In: a CSV or XLSX file as finance teams export it, read as a header and rows of text. CSV comes
as UTF-8 (with or without the BOM Excel writes), UTF-16 (Excel's "Unicode text") or
Windows-1252 (Excel's CSV on a Brazilian Windows), with `;`, `,`, tab or `|` between the
columns — found by which of them splits the first lines into the same number of columns — and
Excel's `sep=;` first line honoured, lines ending in CR LF, LF or a lone CR (old Mac files). XLSX
cells keep what they are: a date cell becomes an ISO date, a number a `Number` — its plain
digits, which are exact and need no reading (102.345 is never taken for 102.345,00). What the
text means (dates, amounts) is read later, a whole column at a time (`column_formats`).

The file is read in the upload request, so an untrusted one must not take the process down:
at most MAX_ROWS rows are read (one more says the file is too long), XLSX columns beyond
MAX_COLUMNS are left out (a single cell at XFD1048576 would make openpyxl build every row
16,384 cells wide), an XLSX that would unpack to more than MAX_UNPACKED bytes is refused
before it is opened (a zip bomb of shared strings), and a CSV that the csv module cannot read
(a cell over its 128 KB limit) is the file's error, never a crash.

Out: CSV files people open in a spreadsheet: a cell that starts like a formula (`=`, `+`, `-`,
`@`, a tab or a carriage return) is run by Excel or LibreOffice. Debtors write some of the text
Régua exports (replies, notes on a payment claim), so such a cell gets a leading apostrophe,
which spreadsheets read as "this is text". Numbers, negative ones included, are left alone."""

import codecs
import csv
import io
import re
import zipfile
from datetime import date, datetime, time
from decimal import Decimal
from itertools import islice

from django.utils.translation import gettext as _
from openpyxl import load_workbook

MAX_ROWS = 500_000
MAX_COLUMNS = 200
MAX_UNPACKED = 300 * 1024 * 1024  # an XLSX's files once unzipped; 500,000 plain rows fit
DELIMITERS = (";", "\t", ",", "|")
_SNIFF_LINES = 50


class ImportFileError(ValueError):
    """A file that cannot be read as a table, with the reason."""


class Number(str):
    """A number cell of an XLSX: its plain digits ("102.345", "45321", "-0.5"), exact (what
    the cell holds, without Excel's display format), read as `value` whatever the column's
    other values look like. Kept in JSON as a JSON number (`cells_to_json`)."""

    __slots__ = ()

    @classmethod
    def of(cls, value: int | float | Decimal) -> "Number":
        # repr gives the shortest text that is the same double: 0.1 → "0.1", not 0.1000000000001
        number = value if isinstance(value, Decimal) else Decimal(repr(value))
        text = f"{number:f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return cls("0" if text in ("", "-", "-0") else text)

    @property
    def value(self) -> Decimal:
        return Decimal(str(self))


def cells_to_json(cells: list[str]) -> list:
    """A row for a JSON field: a `Number` as a JSON number (a double, as in the XLSX)."""
    return [(float(c) if "." in c else int(c)) if isinstance(c, Number) else c for c in cells]


def cells_from_json(cells: list) -> list[str]:
    """A row `cells_to_json` kept, as `read_table` gives it."""
    return [
        Number.of(c) if isinstance(c, int | float) and not isinstance(c, bool) else str(c)
        for c in cells
    ]


def _too_long() -> ImportFileError:
    return ImportFileError(_("At most %(n)s rows per file.") % {"n": MAX_ROWS})


def read_table(filename: str, content: bytes) -> tuple[list[str], list[list[str]]]:
    """The header and the rows (as text) of a CSV or XLSX file. Raises ImportFileError."""
    if content[:4] == b"PK\x03\x04" or (filename.lower().endswith(".xlsx") and content):
        headers, rows = _read_xlsx(content)
    else:
        _refuse_other_formats(content)
        headers, rows = _read_csv(_decode(content))
    if len(rows) > MAX_ROWS:
        raise _too_long()
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
    # Universal newlines: CR LF, LF and a lone CR all end a line (a CR inside quotes too).
    stream = io.StringIO(text, newline=None)
    try:
        first = stream.readline()
        hint = re.fullmatch(r'"?sep=(.)"?', first.strip())
        if not hint:  # Excel's own "sep=;" line
            stream.seek(0)
        start = stream.tell()
        sample = [line for line in islice(stream, _SNIFF_LINES) if line.strip()]
        if not sample:
            raise ImportFileError(_("The file is empty."))
        delimiter = hint[1] if hint else _delimiter(sample)
        stream.seek(start)
        reader = csv.reader(stream, delimiter=delimiter)
        rows = []
        for row in reader:
            if any(c.strip() for c in row):
                rows.append(row)
                if len(rows) > MAX_ROWS + 1:  # the header, then one row too many
                    raise _too_long()
    except csv.Error as exc:
        line = reader.line_num if "reader" in locals() else 0
        if "field limit" in str(exc):
            raise ImportFileError(
                _(
                    "A cell near line %(line)s is larger than %(kb)s KB: this does not look "
                    "like a spreadsheet of invoices."
                )
                % {"line": line, "kb": csv.field_size_limit() // 1024}
            ) from None
        raise ImportFileError(
            _("Line %(line)s cannot be read as CSV (check its quotes).") % {"line": line}
        ) from None
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
    if isinstance(value, int | float | Decimal):
        if value != value or value in (float("inf"), float("-inf")):  # NaN, ±inf: no number
            return ""
        return Number.of(value)
    return str(value)


def _unpacked_size_check(content: bytes) -> None:
    """Refuse an XLSX whose files would unpack to more than MAX_UNPACKED bytes, before any is
    unpacked (zipfile never gives more than a member's declared size)."""
    try:
        members = zipfile.ZipFile(io.BytesIO(content)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ImportFileError(_("This is not a readable XLSX file.")) from exc
    if sum(member.file_size for member in members) > MAX_UNPACKED:
        raise ImportFileError(
            _("This XLSX file unpacks to more than %(mb)s MB: split it or save it as CSV.")
            % {"mb": MAX_UNPACKED // 2**20}
        )


def _read_xlsx(content: bytes) -> tuple[list[str], list[list[str]]]:
    _unpacked_size_check(content)
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise ImportFileError(_("This is not a readable XLSX file.")) from exc
    try:
        sheet = workbook.active
        # The file's own <dimension> may claim A1:XFD1048576: read the cells that are there,
        # and no column beyond MAX_COLUMNS.
        sheet.reset_dimensions()
        rows = []
        for values in sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True):
            if values.count(None) == len(values):  # an empty row (quick: rows may be missing)
                continue
            cells = [_xlsx_text(v) for v in values]
            while cells and not cells[-1].strip():
                cells.pop()
            if cells:
                rows.append(cells)
                if len(rows) > MAX_ROWS + 1:  # the header, then one row too many
                    raise _too_long()
    except ImportFileError:
        raise
    except Exception as exc:
        raise ImportFileError(_("This is not a readable XLSX file.")) from exc
    finally:
        workbook.close()
    if not rows:
        raise ImportFileError(_("The file is empty."))
    width = max(len(row) for row in rows)
    for row in rows:
        row += [""] * (width - len(row))
    return [h.strip() for h in rows[0]], rows[1:]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+([.,]\d+)?")


def cell_safe(value):
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def row_safe(row) -> list:
    return [cell_safe(value) for value in row]
