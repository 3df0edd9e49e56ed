"""How a spreadsheet writes its dates, amounts and yes/no values, read from the whole column.

Finance teams export what their ERP or Excel gives them: 26/01/2013 or 1/26/2013, 2013-01-26,
20130126, 26-01-13, Excel's day numbers (45321), 1.234,50 or 1,234.50. One value alone is often
ambiguous (03/04/2013; 1.234), a column rarely is: `column_profile` looks at each distinct
value of a column once and counts which readings fit it; `detected_order` and `number_locale`
turn those counts into the column's rule. A column whose every date reads both day-first and
month-first, differently, is *ambiguous*: never guessed, the user chooses.

The values are then parsed by Babel with the column's rule — a date pattern, the pt-BR or
en-US number symbols — never by swapping characters by hand. Babel's own guess (it swaps day
and month when the month would be over 12) is kept out by checking the month first."""

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, parse_date
from babel.numbers import NumberFormatError, parse_decimal
from django.utils.translation import get_language, gettext_lazy, to_locale
from openpyxl.utils.datetime import from_excel

from collections_app.imports.spreadsheets import Number

AUTO, DMY, MDY, YMD = "auto", "dmy", "mdy", "ymd"
DATE_FORMATS = {
    AUTO: gettext_lazy("Automatic: read from each column"),
    DMY: gettext_lazy("day/month/year"),
    MDY: gettext_lazy("month/day/year"),
    YMD: gettext_lazy("year-month-day"),
}
PT_BR, EN_US = "pt_BR", "en_US"
_LOCALES = {PT_BR: Locale.parse(PT_BR), EN_US: Locale.parse(EN_US)}  # parsed once, not per value
NUMBER_EXAMPLES = {PT_BR: "1.234,50", EN_US: "1,234.50"}

# A time after the date (24-hour, or 12-hour as US exports write it: "1/26/2013 12:00:00 AM").
_TIME = re.compile(
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s?[AaPp]\.?[Mm]\.?)?(?:Z|[+-]\d{2}:?\d{2})?)$"
)
# An ISO 8601 timestamp that names its offset: the moment is known, its day depends on where.
_OFFSET_STAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2})"
)
DEFAULT_TIMEZONE = "America/Sao_Paulo"
_PARTS = re.compile(r"(\d{1,4})([/.-])(\d{1,2})\2(\d{1,4})")
_SERIAL = re.compile(r"\d{5}(?:\.\d+)?")
_COMPACT = re.compile(r"(?:19|20)\d{6}")  # ISO's basic form, as SAP exports it: 20130126
_SPACES = re.compile(r"\s+")
_CURRENCY = re.compile(r"^([+-]?)(?:R\$|US\$|\$)")
_NUMBERISH = re.compile(r"[+-]?\d[\d.,]*")
_COMMA_GROUPS = re.compile(r"[+-]?\d{1,3}(,\d{3})+")
_POINT_GROUPS = re.compile(r"[+-]?\d{1,3}(\.\d{3})+")
# Excel's day numbers taken for dates: 1954-10-03 to 2119-01-10. Smaller or larger numbers in
# a date column are more likely something else, and are refused.
SERIAL_RANGE = (20_000, 80_000)


# Dates outside these years are typing mistakes (0026 for 2026), not history or plans.
YEAR_RANGE = (1900, 2100)
# Two-digit years as POSIX's strptime reads them: 69–99 are 1969–1999, 00–68 are 2000–2068.
TWO_DIGIT_PIVOT = 69


def _year(text: str) -> int:
    if len(text) != 2:
        return int(text)
    return (1900 if int(text) >= TWO_DIGIT_PIVOT else 2000) + int(text)


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _date_text(raw: str) -> str:
    return _TIME.sub("", raw.strip())


def date_kind(raw: str) -> str:
    """What a value says about its column's order: "iso" (year first), "serial" (an Excel day
    number), "dmy" or "mdy" (only that reading is a date), "both" (both are, and differ),
    "same" (both are, alike: 05/05/2026), "" (not a date)."""
    if not raw[:1].isdigit():  # most of a file's text, at once
        return ""
    text = _date_text(raw)
    if _SERIAL.fullmatch(text):
        return "serial" if SERIAL_RANGE[0] <= float(text) < SERIAL_RANGE[1] else ""
    if _COMPACT.fullmatch(text):
        return "iso" if _is_date(int(text[:4]), int(text[4:6]), int(text[6:])) else ""
    parts = _PARTS.fullmatch(text)
    if not parts:
        return ""
    first, _sep, second, last = parts.groups()
    if len(first) == 4:
        return "iso" if len(last) <= 2 and _is_date(int(first), int(second), int(last)) else ""
    if len(first) > 2 or len(last) not in (2, 4):
        return ""
    year = _year(last)
    day_first = _is_date(year, int(second), int(first))
    month_first = _is_date(year, int(first), int(second))
    if day_first and month_first:
        return "same" if int(first) == int(second) else "both"
    return DMY if day_first else MDY if month_first else ""


def number_kind(raw: str) -> str:
    """Which number symbols a value shows: PT_BR (1.234,50 · 99,90 · 1.234), EN_US (1,234.50 ·
    99.90 · 1,234) or "" (either: 1234, or not a number)."""
    if not raw[-1:].isdigit() or raw.isdigit():
        return ""
    text = _bare_number(raw)
    if not _NUMBERISH.fullmatch(text):
        return ""
    if "," in text and "." in text:
        return PT_BR if text.rfind(",") > text.rfind(".") else EN_US
    # One separator followed by groups of three digits groups thousands (an amount has at
    # most two decimals); otherwise it is the decimal separator.
    if "," in text:
        return EN_US if _COMMA_GROUPS.fullmatch(text) else PT_BR
    if "." in text:
        return PT_BR if _POINT_GROUPS.fullmatch(text) else EN_US
    return ""


def column_profile(values: Iterable[str]) -> dict:
    """What a column's distinct values show: {"dates": {kind: count}, "examples": {kind: value},
    "numbers": {locale: count}} (JSON, kept with the import)."""
    dates: Counter = Counter()
    numbers: Counter = Counter()
    examples: dict[str, str] = {}
    for value in {v if isinstance(v, Number) else v.strip() for v in values} - {""}:
        kind = date_kind(value)
        if kind:
            dates[kind] += 1
            # The smallest value, so the same file always shows the same example.
            if kind not in examples or (len(value), value) < (len(examples[kind]), examples[kind]):
                examples[kind] = value
        # An XLSX number cell is exact (its digits, a point before the decimals): it shows
        # nothing of how the column's text is written.
        number = "" if isinstance(value, Number) else number_kind(value)
        if number:
            numbers[number] += 1
    return {"dates": dict(dates), "examples": examples, "numbers": dict(numbers)}


def columns_profile(rows: list[list[str]], width: int) -> list[dict]:
    """`column_profile` of each of `width` columns."""
    return [
        column_profile(row[index] for row in rows if index < len(row)) for index in range(width)
    ]


def detected_order(profile: dict) -> str | None:
    """The order the column's own values show: DMY or MDY — the one more of its values fit
    only (a value that fits only the other is then an error) — or None when none of its
    values decides."""
    dates = profile.get("dates", {})
    day_first, month_first = dates.get(DMY, 0), dates.get(MDY, 0)
    if not day_first and not month_first:
        return None
    return MDY if month_first > day_first else DMY


def is_ambiguous(profile: dict) -> bool:
    """Every day/month value fits both readings, and some read differently: 03/04/2013 is
    3 April or 4 March, and nothing in the column says which."""
    return detected_order(profile) is None and profile.get("dates", {}).get("both", 0) > 0


def column_order(profile: dict, date_format: str) -> str | None:
    """How the column's day/month values are read: the format chosen, else the one the column
    shows; None when it is ambiguous (the user has to choose)."""
    if date_format in (DMY, MDY, YMD):
        return date_format
    if is_ambiguous(profile):
        return None
    return detected_order(profile) or DMY  # nothing depends on it: ISO, day numbers, 05/05


def ambiguous_example(profile: dict) -> tuple[str, date, date] | None:
    """A value of an ambiguous column with its two readings (day first, month first)."""
    value = profile.get("examples", {}).get("both")
    if not value:
        return None
    return value, read_date(value, DMY), read_date(value, MDY)


def number_locale(profile: dict) -> str:
    """The column's number symbols: those more of its values show (pt-BR on a tie)."""
    numbers = profile.get("numbers", {})
    return EN_US if numbers.get(EN_US, 0) > numbers.get(PT_BR, 0) else PT_BR


class DateOrderError(ValueError):
    """A value that is a date, but not in the order its column is read with."""


@lru_cache(maxsize=16_384)
def read_date(raw: str, order: str, timezone: str = DEFAULT_TIMEZONE) -> date:
    """The date `raw` says when its column is read in `order` (DMY, MDY or YMD): year-first
    dates and Excel day numbers read the same in any order; a timestamp with an offset
    ("2026-12-01T01:30:00Z") is dated in `timezone`, where the tenant is (30/11 in São Paulo).
    Raises ValueError (DateOrderError when the value is a date in another order). Pure, hence
    memoised: a column repeats its dates."""
    stamped = _OFFSET_STAMP.fullmatch(raw.strip())
    if stamped:
        try:
            moment = datetime.fromisoformat(stamped.group(0).replace("z", "Z"))
        except ValueError:
            raise ValueError(raw) from None
        day = moment.astimezone(ZoneInfo(timezone)).date()
        if not YEAR_RANGE[0] <= day.year <= YEAR_RANGE[1]:
            raise ValueError(raw)
        return day
    text = _date_text(raw)
    if _SERIAL.fullmatch(text):
        if not SERIAL_RANGE[0] <= float(text) < SERIAL_RANGE[1]:
            raise ValueError(raw)
        return from_excel(float(text)).date()
    if _COMPACT.fullmatch(text):
        if not _is_date(int(text[:4]), int(text[4:6]), int(text[6:])):
            raise ValueError(raw)
        return parse_date(text, locale=_LOCALES[PT_BR])  # Babel reads ISO's basic form
    parts = _PARTS.fullmatch(text)
    if not parts:
        raise ValueError(raw)
    first, sep, second, last = parts.groups()
    if len(first) == 4 and len(last) <= 2:
        pattern, month = "yyyy-MM-dd", second
    elif len(first) <= 2 and len(last) == 2 and order == YMD:
        pattern, month = "yy-MM-dd", second
    elif len(first) <= 2 and len(last) in (2, 4) and order in (DMY, MDY):
        year = "yy" if len(last) == 2 else "yyyy"
        pattern, month = (
            (f"dd{sep}MM{sep}{year}", second) if order == DMY else (f"MM{sep}dd{sep}{year}", first)
        )
    else:
        raise DateOrderError(raw) if date_kind(raw) else ValueError(raw)
    if not 1 <= int(month) <= 12:
        # Babel would swap day and month here; in this column's order it is not a date.
        raise DateOrderError(raw) if date_kind(raw) else ValueError(raw)
    day = parse_date(text, locale=_LOCALES[PT_BR], format=pattern)  # ValueError for 31/02
    if "yyyy" not in pattern:  # Babel puts every two-digit year in 20xx: 31/12/99 is 1999
        day = day.replace(year=_year(first if pattern.startswith("yy") else last))
    if not YEAR_RANGE[0] <= day.year <= YEAR_RANGE[1]:
        raise ValueError(raw)
    return day


def _bare_number(raw: str) -> str:
    return _CURRENCY.sub(r"\1", _SPACES.sub("", raw))


def read_number(raw: str, locale: str) -> Decimal:
    """`raw` read with the number symbols of `locale` (PT_BR or EN_US), a currency sign and
    spaces aside. Raises ValueError."""
    try:
        return parse_decimal(_bare_number(raw), locale=_LOCALES[locale], strict=True)
    except NumberFormatError as exc:
        raise ValueError(raw) from exc


def _words(raw: str) -> str:
    text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


FLAG_TRUE = {"sim", "s", "yes", "y", "true", "verdadeiro", "v", "1", "x"}
FLAG_FALSE = {"nao", "n", "no", "false", "falso", "f", "0"}
# A status column read as the disputed flag: the words that say disputed, and those that say
# nothing about a dispute — open or overdue, paid (which needs the paid date to be recorded),
# or written off ("baixado": a baixa is often a write-off, not a payment). A status word never
# clears a dispute an agent set in Régua: only an explicit no (não, false, 0) does.
STATUS_DISPUTED = {"disputed", "in dispute", "dispute", "contestada", "contestado", "em disputa"}
STATUS_OPEN = {
    "open",
    "pending",
    "overdue",
    "late",
    "due",
    "aberta",
    "aberto",
    "em aberto",
    "pendente",
    "vencida",
    "vencido",
    "a vencer",
    "atrasada",
    "atrasado",
    "baixado",
    "baixada",
    "written off",
}
STATUS_PAID = {
    "paid",
    "settled",
    "closed",
    "pago",
    "paga",
    "quitado",
    "quitada",
    "liquidado",
    "liquidada",
    "recebido",
    "recebida",
}


def read_flag(raw: str) -> tuple[bool | None, bool]:
    """(disputed — None when the value says nothing about a dispute —, says paid) from a
    yes/no value (yes/no, sim/não, true/false, 1/0) or a status word. Raises ValueError."""
    words = _words(raw)
    if words in FLAG_TRUE or words in STATUS_DISPUTED:
        return True, False
    if words in FLAG_FALSE:
        return False, False
    if words in STATUS_OPEN:
        return None, False
    if words in STATUS_PAID:
        return None, True
    raise ValueError(raw)


def long_date(day: date) -> str:
    """A date spelled out in the active language ("3 de abril de 2013")."""
    return format_date(day, format="long", locale=to_locale(get_language() or "pt-br"))
