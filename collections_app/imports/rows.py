"""Checking one row of a spreadsheet: how its columns are read (`ReadRules`), each cell's
parsing, and the row as an item for `invoices_upsert` with its errors."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from collections_app.documents import document_normalize
from collections_app.imports.column_formats import (
    AUTO,
    DATE_FORMATS,
    DEFAULT_TIMEZONE,
    DMY,
    NUMBER_EXAMPLES,
    PT_BR,
    DateOrderError,
    column_order,
    number_locale,
    read_date,
    read_flag,
    read_number,
)
from collections_app.imports.mapping import AMOUNT_FIELDS, DATE_FIELDS, FIELDS
from collections_app.imports.spreadsheets import Number
from collections_app.payments.amounts import AMOUNT_MAX, amount_max_message


@dataclass
class ReadRules:
    """How a mapping's columns are read: each date field's order (None: not chosen yet), each
    amount field's number symbols, the tenant's today (no payment in the future) and its
    timezone (a timestamp with an offset is dated where the tenant is)."""

    dates: dict[str, str | None] = field(default_factory=dict)
    numbers: dict[str, str] = field(default_factory=dict)
    today: date | None = None
    timezone: str = DEFAULT_TIMEZONE


def read_rules(
    mapping: dict[str, int],
    *,
    profiles: list[dict] | None,
    date_format: str = AUTO,
    today: date | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> ReadRules:
    def profile(name: str) -> dict:
        index = mapping.get(name)
        return profiles[index] if profiles and index is not None and index < len(profiles) else {}

    return ReadRules(
        dates={name: column_order(profile(name), date_format) for name in DATE_FIELDS},
        numbers={name: number_locale(profile(name)) for name in AMOUNT_FIELDS},
        today=today,
        timezone=timezone,
    )


def parse_amount(raw: str, locale: str = PT_BR) -> Decimal:
    """An amount written with the column's number symbols (`locale`), or an XLSX number cell
    (a `Number`: exact, whatever the column's text looks like). More than two decimals is an
    error, never rounded."""
    if isinstance(raw, Number):
        value = raw.value
    else:
        try:
            value = read_number(raw, locale)
        except ValueError:
            raise ValueError(
                _("“%(raw)s” is not an amount written like this column's (%(example)s).")
                % {"raw": raw, "example": NUMBER_EXAMPLES[locale]}
            ) from None
    if not value.is_finite() or value <= 0:
        raise ValueError(_("The amount must be positive, with at most two decimals."))
    if value > AMOUNT_MAX:
        raise ValueError(amount_max_message())
    if value.as_tuple().exponent < -2:
        raise ValueError(
            _("“%(raw)s” has more than two decimals: an amount is in reais and centavos.")
            % {"raw": raw}
        )
    return value


def parse_day(raw: str, order: str | None = DMY, timezone: str = DEFAULT_TIMEZONE) -> date:
    """A date in the column's order (None: the column's format is not chosen yet)."""
    if order is None:
        raise ValueError(_("Day or month first? Choose the date format."))
    try:
        return read_date(raw.strip(), order, timezone)
    except DateOrderError:
        raise ValueError(
            _("“%(raw)s” is not a date in this column's format (%(format)s).")
            % {"raw": raw, "format": DATE_FORMATS[order]}
        ) from None
    except ValueError:
        raise ValueError(_("“%(raw)s” is not a date.") % {"raw": raw}) from None


# A customer's phone, document and e-mail repeat on each of their invoices: the checks are pure
# functions of the text, memoised (a failing value raises again, in the active language).
@lru_cache(maxsize=16_384)
def _e164(raw: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, "BR")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_phone(raw: str) -> str:
    number = _e164(raw)
    if number is None:
        raise ValueError(_("“%(raw)s” is not a valid phone number.") % {"raw": raw})
    return number


@lru_cache(maxsize=16_384)
def _document(raw: str) -> str:
    return document_normalize(_zeros_restored(raw))


@lru_cache(maxsize=16_384)
def _email_valid(raw: str) -> bool:
    try:
        validate_email(raw)
    except ValidationError:
        return False
    return True


def parse_flag(raw: str) -> tuple[bool | None, bool]:
    try:
        return read_flag(raw)
    except ValueError:
        raise ValueError(
            _("“%(raw)s” is not yes or no (use sim/não, yes/no, true/false or 1/0).") % {"raw": raw}
        ) from None


def _zeros_restored(raw: str) -> str:
    """A CPF or CNPJ that a spreadsheet kept as a number lost its leading zeros
    (012.345.678-90 → 1234567890): put them back; the check digits still decide."""
    if raw.isdigit() and len(raw) in (9, 10, 12, 13):
        return raw.zfill(11 if len(raw) < 11 else 14)
    return raw


DEFAULT_RULES = ReadRules()


def row_check(
    cells: list[str], mapping: dict[str, int], rules: ReadRules = DEFAULT_RULES
) -> tuple[dict, list[tuple[str, str]]]:
    """One row as an item for `invoices_upsert` (with `paid_date` and `paid_amount` when
    given, for the payment), and its errors as (field, message)."""

    errors: list[tuple[str, str]] = []
    item: dict = {}
    customer: dict = {}
    says_paid = False
    width = len(cells)
    for name, (_label, required) in FIELDS.items():
        index = mapping.get(name)
        cell = cells[index] if index is not None and index < width else ""
        raw = cell if isinstance(cell, Number) else cell.strip()
        if not raw:
            if required:
                errors.append((name, _("Required.")))
            continue
        try:
            if name in AMOUNT_FIELDS:
                item[name] = parse_amount(raw, rules.numbers.get(name, PT_BR))
            elif name in DATE_FIELDS:
                item[name] = parse_day(raw, rules.dates.get(name, DMY), rules.timezone)
            elif name == "disputed":
                disputed, says_paid = parse_flag(raw)
                if disputed is not None:  # a status word leaves a dispute as it is
                    item["disputed"] = disputed
            elif name == "customer_document":
                customer["document"] = _document(raw)
            elif name in ("customer_phone", "customer_whatsapp"):
                customer[name.removeprefix("customer_")] = parse_phone(raw)
            elif name == "customer_email":
                if not _email_valid(raw):
                    raise ValidationError("invalid")
                customer["email"] = raw.lower()
            elif name.startswith("customer_"):
                customer[name.removeprefix("customer_")] = raw[:200]
            else:
                item[name] = raw[:300]
        except ValidationError:
            errors.append((name, _("“%(raw)s” is not an e-mail address.") % {"raw": raw}))
        except ValueError as exc:
            errors.append((name, str(exc)))
    if "issue_date" in item and "due_date" in item and item["due_date"] < item["issue_date"]:
        errors.append(("due_date", _("The due date is before the issue date.")))
    errors += _history_errors(item, says_paid=says_paid, today=rules.today)
    item["customer"] = customer
    return item, errors


def _history_errors(item: dict, *, says_paid: bool, today: date | None) -> list[tuple[str, str]]:
    errors = []
    paid_date, paid_amount = item.get("paid_date"), item.get("paid_amount")
    if paid_date and today and paid_date > today:
        errors.append(("paid_date", _("The paid date is in the future.")))
    if paid_amount is not None and not paid_date:
        errors.append(("paid_amount", _("A paid amount needs the paid date.")))
    if paid_amount is not None and "amount" in item and paid_amount > item["amount"]:
        errors.append(("paid_amount", _("More than the invoice's amount.")))
    if says_paid and not paid_date:
        errors.append(("disputed", _("Says the invoice was paid: map the paid date column too.")))
    return errors
