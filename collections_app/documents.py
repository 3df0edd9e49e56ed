"""Brazilian taxpayer numbers: CPF (11 digits) and CNPJ (14 characters, the alphanumeric
format issued since July 2026 included: 12 letters or digits, then 2 check digits)."""

import re

from django.utils.translation import gettext as _


def _clean(value: str) -> str:
    return re.sub(r"[.\-/\s]", "", value or "").upper()


def _cnpj_check(base: str) -> str:
    def digit(chars: str) -> str:
        weights = list(range(len(chars) - 7, 1, -1)) + list(range(9, 1, -1))
        total = sum((ord(c) - 48) * w for c, w in zip(chars, weights, strict=True))
        rest = total % 11
        return "0" if rest < 2 else str(11 - rest)

    first = digit(base)
    return first + digit(base + first)


def _cpf_check(base: str) -> str:
    def digit(chars: str) -> str:
        total = sum(int(c) * w for c, w in zip(chars, range(len(chars) + 1, 1, -1), strict=True))
        rest = (total * 10) % 11
        return "0" if rest == 10 else str(rest)

    first = digit(base)
    return first + digit(base + first)


def document_normalize(value: str) -> str:
    """Return the CPF or CNPJ without punctuation, or raise ValueError saying what is wrong."""
    doc = _clean(value)
    if re.fullmatch(r"\d{11}", doc):
        if len(set(doc)) == 1 or _cpf_check(doc[:9]) != doc[9:]:
            raise ValueError(
                _("“%(value)s” is not a valid CPF: the check digits do not match.")
                % {"value": value}
            )
        return doc
    if re.fullmatch(r"[0-9A-Z]{12}\d{2}", doc):
        if len(set(doc)) == 1 or _cnpj_check(doc[:12]) != doc[12:]:
            raise ValueError(
                _("“%(value)s” is not a valid CNPJ: the check digits do not match.")
                % {"value": value}
            )
        return doc
    raise ValueError(
        _("“%(value)s” is neither a CPF (11 digits) nor a CNPJ (14 characters).") % {"value": value}
    )


def is_cpf(document: str) -> bool:
    return len(document) == 11
