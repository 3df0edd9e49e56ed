"""The tenant's Pix key, checked by its type as the Banco Central's DICT defines them, and kept
in the one form a BR Code carries:

- CPF: 11 digits with valid check digits;
- CNPJ: 14 characters (the alphanumeric CNPJ included) with valid check digits;
- e-mail: at most 77 characters, in lower case;
- phone: a Brazilian mobile number in E.164, `+55` then area code and number;
- random key (EVP): a UUID of 36 characters, in lower case.

A CPF or CNPJ may be typed with its punctuation, a phone with spaces, brackets and dashes; a
phone must start with +55, since a bare 11-digit number is read as a CPF (as the DICT does)."""

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils.translation import gettext as _

from tenants.documents import MAX_TYPED, document_clean, document_kind, document_normalize

EMAIL_MAX = 77
EVP_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_email = EmailValidator()


def pix_key_parse(value: str) -> tuple[str, str]:
    """(kind, key): the kind ("cpf", "cnpj", "email", "phone" or "evp") and the key in the
    form a BR Code carries. Raises ValueError with a message for the person who typed it
    naming what is wrong."""
    key = (value or "").strip()
    if not key:
        raise ValueError(_("Give a Pix key."))
    if "@" in key:
        return "email", _email_key(key)
    if EVP_RE.fullmatch(key.lower()):
        return "evp", key.lower()
    if key.startswith("+"):
        return "phone", _phone_key(key)
    bare = document_clean(key)
    if document_kind(bare):
        try:
            return document_kind(bare), document_normalize(key)
        except ValueError as exc:
            if document_kind(bare) == "cpf":
                raise ValueError(
                    _("%(error)s A phone key is written with +55, like +5511987654321.")
                    % {"error": exc}
                ) from exc
            raise
    shown = key if len(key) <= MAX_TYPED else key[:MAX_TYPED] + "…"
    raise ValueError(
        _(
            "“%(value)s” is not a Pix key: use a CPF, a CNPJ, an e-mail, a mobile phone "
            "with +55 or a random key."
        )
        % {"value": shown}
    )


def pix_key_normalize(value: str) -> str:
    """The key in the form a BR Code carries; "" stays "" (no key). Raises ValueError."""
    if not (value or "").strip():
        return ""
    return pix_key_parse(value)[1]


def pix_key_kind(value: str) -> str | None:
    """The kind of a Pix key, or None when it is not a valid key of any kind."""
    try:
        return pix_key_parse(value)[0]
    except ValueError:
        return None


def _email_key(key: str) -> str:
    email = key.lower()
    if len(email) > EMAIL_MAX:
        raise ValueError(
            _("An e-mail Pix key has at most %(max)s characters; this one has %(n)s.")
            % {"max": EMAIL_MAX, "n": len(email)}
        )
    try:
        _email(email)
    except ValidationError as exc:
        raise ValueError(_("“%(value)s” is not a valid e-mail address.") % {"value": key}) from exc
    if not email.isascii():
        # The Banco Central's key directory takes e-mail keys in ASCII only.
        raise ValueError(
            _(
                "“%(value)s”: an e-mail Pix key has no accented letters or other non-ASCII "
                "characters."
            )
            % {"value": key}
        )
    return email


def _phone_key(key: str) -> str:
    shown = key if len(key) <= MAX_TYPED else key[:MAX_TYPED] + "…"
    try:
        if len(key) > MAX_TYPED:
            raise phonenumbers.NumberParseException(phonenumbers.NumberParseException.TOO_LONG, "")
        number = phonenumbers.parse(key, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(_("“%(value)s” is not a phone number.") % {"value": shown}) from exc
    if number.country_code != 55:
        raise ValueError(
            _("“%(value)s” is not a Brazilian number: a phone Pix key starts with +55.")
            % {"value": shown}
        )
    mobile = phonenumbers.PhoneNumberType.MOBILE
    if (
        number.extension
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number) != mobile
    ):
        raise ValueError(
            _(
                "“%(value)s” is not a Brazilian mobile number (+55, the area code, then 9 "
                "digits starting with 9)."
            )
            % {"value": shown}
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
