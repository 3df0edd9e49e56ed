"""Brazilian taxpayer numbers: CPF (11 digits) and CNPJ (14 characters, the alphanumeric
format issued since July 2026 included: 12 letters or digits, then 2 check digits).

People type them with or without punctuation (`529.982.247-25`, `12.ABC.345/01DE-35`) and in
any case; one form is kept: bare, letters in upper case. The check digits are the Receita
Federal's modulo 11, each character worth its ASCII code minus 48 (so "0"–"9" are 0–9 and
"A" is 17), which for a numeric CNPJ is the old rule. Pure functions: the tenants' Pix key and
the customers' documents both rely on them."""

import re

from django.utils.translation import gettext as _

# Longer than any CPF or CNPJ with its punctuation (18 characters) and some stray spaces:
# what is longer is refused without being echoed back in full.
MAX_TYPED = 30


def document_clean(value: str) -> str:
    """The value without dots, dashes, slashes and spaces, in upper case."""
    return re.sub(r"[.\-/\s]", "", value or "").upper()


def cnpj_check_digits(base: str) -> str:
    """The two check digits of a CNPJ's first 12 characters."""

    def digit(chars: str) -> str:
        weights = list(range(len(chars) - 7, 1, -1)) + list(range(9, 1, -1))
        total = sum((ord(c) - 48) * w for c, w in zip(chars, weights, strict=True))
        rest = total % 11
        return "0" if rest < 2 else str(11 - rest)

    first = digit(base)
    return first + digit(base + first)


def cpf_check_digits(base: str) -> str:
    """The two check digits of a CPF's first 9 digits."""

    def digit(chars: str) -> str:
        total = sum(int(c) * w for c, w in zip(chars, range(len(chars) + 1, 1, -1), strict=True))
        rest = (total * 10) % 11
        return "0" if rest == 10 else str(rest)

    first = digit(base)
    return first + digit(base + first)


def document_kind(document: str) -> str | None:
    """ "cpf" or "cnpj" for a bare document of that shape (check digits not looked at), else
    None."""
    if re.fullmatch(r"\d{11}", document):
        return "cpf"
    if re.fullmatch(r"[0-9A-Z]{12}\d{2}", document):
        return "cnpj"
    return None


# An alphanumeric CNPJ as the Receita Federal writes it, or bare. Letters make the punctuation
# matter: "CPF 123.456.700-21" must not be read as the CNPJ CPF12345670021.
CNPJ_WITH_LETTERS = re.compile(
    r"[0-9A-Z]{2}[.\s]?[0-9A-Z]{3}[.\s]?[0-9A-Z]{3}[/\s]?[0-9A-Z]{4}[-\s]?\d{2}", re.IGNORECASE
)


def document_normalize(value: str) -> str:
    """Return the CPF or CNPJ bare (no punctuation, letters in upper case), or raise
    ValueError with a message for the person who typed it saying what is wrong."""
    shown = value if len(value or "") <= MAX_TYPED else value[:MAX_TYPED] + "…"
    doc = document_clean(value) if len(value or "") <= MAX_TYPED else value
    kind = document_kind(doc)
    if kind == "cnpj" and not doc.isdigit() and not CNPJ_WITH_LETTERS.fullmatch(value.strip()):
        raise ValueError(
            _(
                "“%(value)s” is neither a CPF nor a CNPJ: write a CPF as 529.982.247-25 and "
                "a CNPJ as 12.ABC.345/01DE-35, or either one bare."
            )
            % {"value": shown}
        )
    if kind == "cpf":
        if len(set(doc)) == 1 or cpf_check_digits(doc[:9]) != doc[9:]:
            raise ValueError(
                _("“%(value)s” is not a valid CPF: the check digits do not match.")
                % {"value": shown}
            )
        return doc
    if kind == "cnpj":
        if len(set(doc)) == 1 or cnpj_check_digits(doc[:12]) != doc[12:]:
            raise ValueError(
                _("“%(value)s” is not a valid CNPJ: the check digits do not match.")
                % {"value": shown}
            )
        return doc
    raise ValueError(
        _("“%(value)s” is neither a CPF (11 digits) nor a CNPJ (14 characters).") % {"value": shown}
    )


def is_cpf(document: str) -> bool:
    return len(document) == 11
