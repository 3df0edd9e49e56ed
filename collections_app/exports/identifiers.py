"""A person's identifiers found in free text and JSON, for erasure (LGPD): their name, CPF/CNPJ,
e-mail address and phone numbers, however they were written.

A name matches whatever its case and accents ("MARIA SOUZA", "Maria  Souza"); a document or a
phone number with or without its punctuation ("529.982.247-25", "52998224725",
"+55 (11) 98765-4321", "11987654321"). Matches stand alone: a name inside a longer word or a
number inside a longer number is not theirs."""

import re
import unicodedata
from collections.abc import Iterable

# Between the characters of a document or a phone number, what people and files put there.
_DOCUMENT_GAP = r"[\s./-]?"
_PHONE_GAP = r"[\s().-]*"
_BRAZIL = "55"


def _fold(text: str) -> str:
    """Lower case without accents, one character for one, so that a match's position in the
    folded text is its position in the original."""
    return "".join((unicodedata.normalize("NFD", c)[:1].lower() or c)[:1] for c in text)


def _name_pattern(name: str) -> str | None:
    words = _fold(name).split()
    if not words or len("".join(words)) < 3:
        return None
    return r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)"


def _document_pattern(document: str) -> str | None:
    chars = [c for c in _fold(document) if c.isalnum()]
    if len(chars) < 6:
        return None
    return r"(?<![0-9a-z])" + _DOCUMENT_GAP.join(re.escape(c) for c in chars) + r"(?![0-9a-z])"


def _phone_pattern(phone: str) -> str | None:
    digits = re.sub(r"\D", "", phone)
    country = ""
    if phone.strip().startswith("+") and digits.startswith(_BRAZIL) and len(digits) > 11:
        country, digits = _BRAZIL, digits[len(_BRAZIL) :]
    if len(digits) < 8:
        return None
    national = _PHONE_GAP.join(digits)
    prefix = rf"(?:\+?{_PHONE_GAP}{country}{_PHONE_GAP})?" if country else r"\+?"
    return rf"(?<!\d){prefix}{national}(?!\d)"


class PersonalIdentifiers:
    """The identifiers of one person, to find (`mentions`) or replace (`scrub`, `scrub_json`)."""

    def __init__(
        self,
        *,
        names: Iterable[str] = (),
        documents: Iterable[str] = (),
        emails: Iterable[str] = (),
        phones: Iterable[str] = (),
        replacement: str,
    ):
        patterns = [
            *(_name_pattern(n) for n in names if n),
            *(_document_pattern(d) for d in documents if d),
            *(re.escape(_fold(e.strip())) for e in emails if e.strip()),
            *(_phone_pattern(p) for p in phones if p),
        ]
        patterns = [p for p in patterns if p]
        self._regex = re.compile("|".join(patterns)) if patterns else None
        self.replacement = replacement

    def mentions(self, text: str) -> bool:
        return bool(self._regex and text and self._regex.search(_fold(text)))

    def scrub(self, text: str) -> str:
        """`text` with each identifier replaced."""
        if not self._regex or not text:
            return text
        pieces, last = [], 0
        for match in self._regex.finditer(_fold(text)):
            pieces.append(text[last : match.start()])
            pieces.append(self.replacement)
            last = match.end()
        if not pieces:
            return text
        pieces.append(text[last:])
        return "".join(pieces)

    def scrub_json(self, value):
        """A JSON value (dicts, lists, strings…) with each identifier replaced in its strings,
        keys included."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, list):
            return [self.scrub_json(v) for v in value]
        if isinstance(value, dict):
            return {self.scrub(k): self.scrub_json(v) for k, v in value.items()}
        return value
