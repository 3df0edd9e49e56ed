"""Serializer fields and checks the API's resources share: tenant-scoped relations, the
API's date range, amounts of money, phone numbers, CPF/CNPJ documents and the external_id an
item names."""

from datetime import date
from decimal import Decimal

import phonenumbers
from django.utils.dateparse import parse_date
from django.utils.functional import cached_property, lazy
from django.utils.translation import gettext as _
from rest_framework import serializers

from collections_app.documents import document_normalize
from collections_app.payments.amounts import AMOUNT_MAX, amount_max_message


class ScopedQuerysetMixin:
    """A related field whose choices are read from the tenant scope when the field is used
    (validating a request), not when the serializer is built — the OpenAPI schema builds
    serializers outside any tenant scope."""

    def __init__(self, model, **kwargs):
        self.scoped_model = model
        super().__init__(queryset=model.objects.none(), **kwargs)

    def get_queryset(self):
        return self.scoped_model.objects.all()


class TenantPrimaryKeyField(ScopedQuerysetMixin, serializers.PrimaryKeyRelatedField):
    def to_internal_value(self, data):
        # The items of a list validated by one serializer often name the same few objects (a
        # segment): each is read once.
        key = (type(data), data) if isinstance(data, int | str) else None
        if key in self.found:
            return self.found[key]
        value = super().to_internal_value(data)
        if key is not None:
            self.found[key] = value
        return value

    @cached_property
    def found(self) -> dict:
        return {}


class TenantSlugField(ScopedQuerysetMixin, serializers.SlugRelatedField):
    def to_internal_value(self, data):
        # Looked up as given: a NUL would reach PostgreSQL, which refuses it (a 500).
        if isinstance(data, str) and "\x00" in data:
            raise serializers.ValidationError(_("Null characters are not allowed."))
        return super().to_internal_value(data)


# The dates the API takes: wide enough for any real invoice, narrow enough that the arithmetic
# done on them (ladder offsets, periods and the previous period, instalments, forecasts) stays
# inside Python's calendar.
DATE_MIN, DATE_MAX = date(1900, 1, 1), date(2999, 12, 31)


def date_in_range(value: date) -> None:
    if not DATE_MIN <= value <= DATE_MAX:
        raise serializers.ValidationError(_date_range_message())


def _date_range_message() -> str:
    return _("Give a date from %(min)s to %(max)s.") % {
        "min": DATE_MIN.isoformat(),
        "max": DATE_MAX.isoformat(),
    }


def parse_day(value: str, name: str, errors: dict):
    """A query parameter's YYYY-MM-DD date within the API's range, or None with the error added
    to `errors` under `name`."""
    try:
        parsed = parse_date(value)
    except ValueError:
        parsed = None
    if parsed is None:
        errors[name] = [_("Use YYYY-MM-DD.")]
    elif not DATE_MIN <= parsed <= DATE_MAX:
        errors[name] = [_date_range_message()]
        parsed = None
    return parsed


def item_external_id(data) -> str | None:
    """The `external_id` an item of a request names, read as its CharField will read it (a
    string, or a number as text); anything else (an object, a list) is left to the serializer
    to refuse, not used as a lookup key."""
    value = data.get("external_id") if isinstance(data, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    # A NUL can't be stored (PostgreSQL refuses it even in a lookup); the field says so.
    return value if isinstance(value, str) and "\x00" not in value else None


class AmountField(serializers.DecimalField):
    """An amount of money the API takes (an invoice's, a payment's): positive, in centavos,
    at most `payments/amounts.AMOUNT_MAX` — the one bound that keeps the invoices' totals
    inside their columns."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 14)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("min_value", Decimal("0.01"))
        kwargs.setdefault("max_value", AMOUNT_MAX)
        # Lazy: the message names the bound in the request's language, R$ 9.999.999.999,99.
        kwargs.setdefault("error_messages", {"max_value": lazy(amount_max_message, str)()})
        super().__init__(**kwargs)


def phone_e164(value: str) -> str:
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, "BR")
    except phonenumbers.NumberParseException as exc:
        raise serializers.ValidationError(_("Invalid phone number: %s") % value) from exc
    if not phonenumbers.is_valid_number(number):
        raise serializers.ValidationError(_("Invalid phone number: %s") % value)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class DocumentField(serializers.CharField):
    """A CPF or CNPJ as people type it — with or without its punctuation, an alphanumeric
    CNPJ in any case — checked and kept bare. Normalised before any length rule: a formatted
    CNPJ has 18 characters, the stored one 14."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault(
            "help_text",
            "CPF or CNPJ (the alphanumeric CNPJ included), with or without punctuation; "
            "stored without it, letters in upper case.",
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not value:
            return ""
        try:
            return document_normalize(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc
