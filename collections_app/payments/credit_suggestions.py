"""The invoices a credit of the review queue most likely pays, so an agent picks one instead of
typing a number.

The candidates are read in SQL, a few per credit: the tenant's open invoices whose amount due is
within ±10 % of the credit (a late payment carries a fine and interest; an early one a
discount), or whose customer's CPF/CNPJ the bank's description names, at most `PREFILTER` of
them, the closest amounts first. Only those few are ranked here, on:
- the amount: the exact amount due first, then the amount due with the fine and interest of
  the day the debtor paid (or of today), then the nearest amounts;
- the date: how far the due date is from the day the credit was paid;
- the payer: the customer's CPF/CNPJ in the description, or the name's similarity to it
  (upper case, without accents nor punctuation; difflib's ratio).
Each suggestion carries the reasons it is shown for, in words."""

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Case, DecimalField, ExpressionWrapper, F, IntegerField, Q, Value, When
from django.db.models.functions import Abs
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from collections_app.models import BankCredit, Invoice, InvoiceStatus
from collections_app.money import format_money, quantize
from collections_app.payments.charges import invoice_charges
from tenants.models import Tenant

TOP = 5
PREFILTER = 30  # candidates read per credit, the closest amounts first
AMOUNT_TOLERANCE = Decimal("0.10")
DOCUMENT_DIGITS = re.compile(
    r"(?<!\d)(\d{3}\.?\d{3}\.?\d{3}-?\d{2}|\d{2}\.?\d{3}\.?\d{3}/?\d{4}-?\d{2})(?!\d)"
)
NAME_SHOWN_FROM = 0.6  # a name this similar is named as a reason


@dataclass
class Suggestion:
    invoice: Invoice
    score: float
    reasons: list[str] = field(default_factory=list)


def text_normal(raw: str) -> str:
    """Upper case, without accents, punctuation nor repeated spaces."""
    text = unicodedata.normalize("NFKD", raw or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).upper()
    return " ".join(re.sub(r"[^A-Z0-9 ]+", " ", text).split())


def documents_in(description: str) -> set[str]:
    """The CPFs and CNPJs (digits only) written in a bank's description."""
    return {re.sub(r"\D", "", found) for found in DOCUMENT_DIGITS.findall(description or "")}


def name_similarity(name: str, description: str) -> float:
    """How much of the description is the customer's name: the best ratio of the name against
    the description's runs of as many words (a Pix memo carries other words around it)."""
    name, text = text_normal(name), text_normal(description)
    if not name or not text:
        return 0.0
    words, size = text.split(), len(name.split())
    best = difflib.SequenceMatcher(None, name, text).ratio()
    for start in range(max(1, len(words) - size + 1)):
        run = " ".join(words[start : start + size])
        best = max(best, difflib.SequenceMatcher(None, name, run).ratio())
    return best


def _candidates(credit: BankCredit) -> list[Invoice]:
    low = quantize(credit.amount / (1 + AMOUNT_TOLERANCE))
    high = quantize(credit.amount * (1 + AMOUNT_TOLERANCE))
    due = ExpressionWrapper(F("amount") - F("amount_paid"), output_field=DecimalField())
    near = Q(due__gte=low, due__lte=high)
    named = Value(1)  # the invoices of a customer the description names come first
    documents = documents_in(credit.description)
    if documents:
        near |= Q(customer__document__in=documents)
        named = Case(
            When(customer__document__in=documents, then=0), default=1, output_field=IntegerField()
        )
    return list(
        Invoice.objects.filter(status=InvoiceStatus.OPEN)
        .annotate(
            due=due,
            gap=Abs(F("due") - Value(credit.amount, output_field=DecimalField())),
            named=named,
        )
        .filter(near, due__gt=0)
        .select_related("customer")
        .order_by("named", "gap", "pk")[:PREFILTER]
    )


def _rank(tenant: Tenant, credit: BankCredit, invoice: Invoice, today: date) -> Suggestion:
    paid_on = credit.paid_on or credit.credited_on
    suggestion = Suggestion(invoice=invoice, score=0.0)
    reasons = suggestion.reasons
    due = quantize(invoice.amount - invoice.amount_paid)
    with_charges = {
        invoice_charges(tenant=tenant, invoice=invoice, today=day).total for day in (paid_on, today)
    } - {due}
    if credit.amount == due:
        suggestion.score += 3
        reasons.append(_("Exact amount due"))
    elif credit.amount in with_charges:
        suggestion.score += 2.5
        reasons.append(_("Amount due with fine and interest"))
    else:
        gap = abs(credit.amount - due)
        suggestion.score += max(0.0, 1.5 - float(gap / max(due, Decimal("0.01"))) * 10)
        language = translation.get_language() or "pt-br"
        reasons.append(
            _("Amount close (difference of %(gap)s)") % {"gap": format_money(gap, "BRL", language)}
        )
    days = (invoice.effective_due_date - paid_on).days
    suggestion.score += max(0.0, 1 - abs(days) / 30)
    if days == 0:
        reasons.append(_("Due the day it was paid"))
    elif days > 0:
        reasons.append(
            ngettext(
                "Due %(n)s day after it was paid",
                "Due %(n)s days after it was paid",
                days,
            )
            % {"n": days}
        )
    else:
        reasons.append(
            ngettext(
                "Due %(n)s day before it was paid",
                "Due %(n)s days before it was paid",
                -days,
            )
            % {"n": -days}
        )
    document = invoice.customer.document
    if document and document in documents_in(credit.description):
        suggestion.score += 3
        reasons.append(_("The customer's CPF/CNPJ is in the description"))
    else:
        similar = name_similarity(invoice.customer.name, credit.description)
        suggestion.score += similar * 2
        if similar >= NAME_SHOWN_FROM:
            reasons.append(
                _("Payer's name %(percent)s%% similar") % {"percent": round(similar * 100)}
            )
    return suggestion


def credit_suggestions(*, tenant: Tenant, credit: BankCredit, today: date) -> list[Suggestion]:
    """The `TOP` invoices the credit most likely pays, best first (none for a credit that is
    not in review)."""
    ranked = [_rank(tenant, credit, invoice, today) for invoice in _candidates(credit)]
    ranked.sort(key=lambda s: (-s.score, s.invoice.effective_due_date, s.invoice.pk))
    return ranked[:TOP]
