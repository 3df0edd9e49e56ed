"""Pix "copia e cola" codes: the BR Code of the Banco Central's manual (EMV QRCPS-MPM).

A static BR Code is a chain of TLV fields — two-digit id, two-digit length, value — ending in a
CRC16-CCITT (polynomial 0x1021, initial value 0xFFFF) of everything before it, the CRC field's
own id and length included. The merchant account (id 26) carries the GUI `br.gov.bcb.pix` and
the tenant's Pix key (in the form `tenants.pix_keys` keeps); the additional data (id 62)
carries the txid that names the invoice in the payment notification."""

import binascii
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from collections_app.money import quantize
from tenants.pix_keys import pix_key_kind, pix_key_normalize

__all__ = ["BRCode", "PixError", "brcode_parse", "crc16", "pix_key_kind"]

GUI = "br.gov.bcb.pix"
TXID_RE = re.compile(r"^[A-Za-z0-9]{1,25}$")


class PixError(ValueError):
    """A BR Code that cannot be made, with the reason."""


def _field(tag: str, value: str) -> str:
    if len(value) > 99:
        raise PixError(f"Pix field {tag} is too long ({len(value)} characters, at most 99)")
    return f"{tag}{len(value):02d}{value}"


def _ascii(text: str, limit: int) -> str:
    """Letters without accents, as payers' apps expect: "São Paulo" → "Sao Paulo"."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"\s+", " ", plain).strip()[:limit]


def crc16(payload: str) -> str:
    return f"{binascii.crc_hqx(payload.encode(), 0xFFFF):04X}"


@dataclass(frozen=True)
class BRCode:
    key: str
    merchant_name: str
    merchant_city: str
    amount: Decimal | None = None
    txid: str = "***"  # "***": no txid
    description: str = ""

    def payload(self) -> str:
        try:
            # Keys are kept normalised; one saved before that rule existed is normalised here.
            key = pix_key_normalize(self.key)
        except ValueError:
            key = ""
        if not key:
            raise PixError("The Pix key is not a CPF, CNPJ, phone (+55…), e-mail or random key")
        if self.txid != "***" and not TXID_RE.match(self.txid):
            raise PixError("The txid must be 1 to 25 letters or digits")
        name = _ascii(self.merchant_name, 25)
        city = _ascii(self.merchant_city, 15)
        if not name or not city:
            raise PixError("The merchant name and city are required")
        account = _field("00", GUI) + _field("01", key)
        if self.description:
            room = 99 - len(account) - 4
            account += _field("02", _ascii(self.description, room)) if room > 0 else ""
        parts = [
            _field("00", "01"),
            _field("26", account),
            _field("52", "0000"),
            _field("53", "986"),
        ]
        if self.amount is not None:
            amount = quantize(self.amount)
            if amount <= 0:
                raise PixError("The amount must be greater than zero")
            parts.append(_field("54", f"{amount:.2f}"))
        parts += [
            _field("58", "BR"),
            _field("59", name),
            _field("60", city),
            _field("62", _field("05", self.txid)),
        ]
        body = "".join(parts) + "6304"
        return body + crc16(body)


def brcode_parse(payload: str) -> dict[str, str]:
    """The top-level fields of a BR Code (id → value), after checking its CRC; nested
    templates (26, 62) are parsed too, as "26.01" and the like. Raises PixError."""
    if len(payload) < 8 or payload[-8:-4] != "6304":
        raise PixError("The code does not end with a CRC field")
    if crc16(payload[:-4]) != payload[-4:].upper():
        raise PixError("The CRC does not match")
    fields = _tlv(payload)
    for tag in ("26", "62"):
        if tag in fields:
            for sub, value in _tlv(fields[tag]).items():
                fields[f"{tag}.{sub}"] = value
    return fields


def _tlv(text: str) -> dict[str, str]:
    fields, i = {}, 0
    while i < len(text):
        tag, length = text[i : i + 2], text[i + 2 : i + 4]
        if not length.isdigit() or i + 4 + int(length) > len(text):
            raise PixError(f"Malformed field at position {i}")
        fields[tag] = text[i + 4 : i + 4 + int(length)]
        i += 4 + int(length)
    return fields
