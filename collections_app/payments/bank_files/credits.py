"""What reading a bank file yields: its credits, the movements that are not payments, and
the error that stops a file; a credit's identity (key) and the account token in it."""

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.utils.translation import ngettext


class BankFileError(ValueError):
    """A file that cannot be read, with the reason and the line."""


@dataclass(frozen=True)
class Credit:
    key: str  # unique across imports: names the account (bank, agency, account, convênio)
    amount: Decimal
    credited_on: date  # the day the money reached the account
    reference: str = ""  # nosso número
    txid: str = ""
    description: str = ""
    # The day the debtor paid (CNAB's data da ocorrência): a boleto paid on its due date is
    # credited a day or two later, and is not late. OFX knows only the day it was posted.
    paid_on: date | None = None
    # The key the same credit had before keys named the account: a file imported then is
    # still recognised when imported again.
    legacy_key: str = ""


@dataclass(frozen=True)
class NotPayment:
    """A movement of the file that moves no money to the account: listed, never dropped."""

    code: str
    description: str
    line: int
    reference: str = ""


@dataclass
class BankFile:
    kind: str  # "ofx" | "cnab240" | "cnab400"
    bank: str = ""  # the bank's code in the header (CNAB)
    credits: list[Credit] = field(default_factory=list)
    not_payments: list[NotPayment] = field(default_factory=list)

    def not_payments_by_code(self) -> list[tuple[str, str, int]]:
        """(code, description, how many), in the order the codes first appear."""
        counts = Counter((n.code, n.description) for n in self.not_payments)
        return [(code, description, n) for (code, description), n in counts.items()]


def not_payments_summary(counts: list[tuple[str, str, int]]) -> str:
    """For the import's result: "3 records were not payments: 02 (Entrada confirmada) ×2,
    09 (Baixa) ×1." — or "" when every record was a payment."""
    if not counts:
        return ""
    total = sum(n for _code, _description, n in counts)
    listed = ", ".join(f"{code} ({description}) ×{n}" for code, description, n in counts)
    return ngettext(
        "%(n)s record was not a payment: %(listed)s.",
        "%(n)s records were not payments: %(listed)s.",
        total,
    ) % {"n": total, "listed": listed}


KEY_MAX = 95  # "bank:" + key is the payment's external_id (100 characters at most)


def credit_key(*parts: str) -> str:
    """A credit's identity from its parts; a long one is shortened to a digest of all of
    them (never cut, which would make two credits one)."""
    key = ":".join(parts)
    if len(key) <= KEY_MAX:
        return key
    return f"{parts[0]}:sha256:{hashlib.sha256(key.encode()).hexdigest()[:48]}"


def account_token(*raws: str) -> str:
    """The header's agency, account and convênio as one token: letters and digits only, the
    run's leading zeros dropped ("" when the bank left them blank)."""
    return re.sub(r"[^0-9A-Za-z]", "", "".join(raws)).lstrip("0")
