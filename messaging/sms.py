"""How many SMS segments a text costs.

A text that fits the GSM 03.38 alphabet is sent in GSM-7: 160 characters in one segment, 153 per
segment when split (the extension characters ^{}\\[~]|€ and form feed count twice). Anything
else — most accents outside the alphabet, emoji — forces UCS-2: 70 characters, 67 per segment
when split (characters outside the BMP count twice). Portuguese text with "ç", "ã" or "õ" is
UCS-2, which is why a template's segment count matters."""

from dataclasses import dataclass

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsSize:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # characters as the network counts them
    segments: int


def sms_size(text: str) -> SmsSize:
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        units = sum(2 if c in GSM7_EXTENSION else 1 for c in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)
        single, multi, encoding = 70, 67, "UCS-2"
    segments = 0 if units == 0 else 1 if units <= single else -(-units // multi)
    return SmsSize(encoding=encoding, units=units, segments=segments)
