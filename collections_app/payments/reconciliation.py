"""Bank reconciliation: the credits of a bank file become payments of the invoices they pay.

Each credit is matched, in this order:
1. by nosso número (`Invoice.bank_reference`), both sides read the same way: without
   separators (. - / and spaces) and leading zeros, so 00012345 is 12345;
2. by a Pix txid of ours in the statement's memo (`Invoice.pix_txid`);
3. by amount and date: the only open invoice of the tenant whose amount due equals the credit,
   due within 5 days of the day it was paid.

The candidates of the whole file are read up front, in a few queries (by nosso número, by txid,
by amount and dates), not per credit. A match is recorded as the invoice's payment through
`invoice_record_payment` (source "bank_file"; idempotent on the credit), dated the day the
debtor paid (CNAB's data da ocorrência), not the day the bank credited it.

A credit that matches nothing, more than one invoice, or a cancelled or written-off invoice,
or whose payment is refused, waits in the review queue with the reason (in the tenant's
language) until an agent assigns it to an invoice or ignores it: one such credit never stops
the others. The whole file is one transaction, and a credit already imported (the same file
again, or overlapping statements) is skipped — recognised by its key, which names the account,
or for files imported before keys named it, by the key it had then with the same amount and
day. The movements of the file that are not payments (entries, rejections, write-offs, fees)
are not recorded; the result lists them per code (`statement.not_payments`) so the agent is
told."""

from collections import defaultdict
from datetime import timedelta

from django.db import transaction
from django.db.models import CharField, F, Func, Value
from django.db.models.functions import Upper
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from collections_app.models import (
    BankCredit,
    BankStatement,
    CreditStatus,
    Invoice,
    InvoiceStatus,
    PaymentSource,
)
from collections_app.payments.bank_files import Credit, bank_file_read
from collections_app.payments.dates import paid_at_on
from collections_app.payments.services import PaymentError, invoice_record_payment
from tenants.models import Tenant

DATE_TOLERANCE_DAYS = 5
# How a credit was matched (BankCredit.matched_by), in words.
MATCH_RULES = {
    "nosso_numero": gettext_lazy("Nosso número"),
    "pix_txid": gettext_lazy("Pix txid"),
    "amount_date": gettext_lazy("Amount and date"),
    "agent": gettext_lazy("Manual"),
}
CHUNK = 500  # values per IN (…): well under SQLite's and PostgreSQL's limits
REFERENCE_SEPARATORS = ("-", ".", "/", " ")
DEAD = (InvoiceStatus.CANCELLED, InvoiceStatus.WRITTEN_OFF)


def reference_normal(raw: str) -> str:
    """A nosso número as it is compared: upper case, without separators nor leading zeros."""
    text = raw.upper()
    for separator in REFERENCE_SEPARATORS:
        text = text.replace(separator, "")
    return text.lstrip("0")


def _reference_normal_sql():
    """`reference_normal` of Invoice.bank_reference, in SQL that SQLite and PostgreSQL both
    run (REPLACE, and LTRIM with the characters to trim)."""
    expression = Upper("bank_reference")
    for separator in REFERENCE_SEPARATORS:
        expression = Func(expression, Value(separator), Value(""), function="REPLACE")
    return Func(expression, Value("0"), function="LTRIM", output_field=CharField())


def _chunks(values):
    values = list(values)
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _paid_on(credit):
    return credit.paid_on or credit.credited_on


def _label(invoice: Invoice) -> str:
    return invoice.number or invoice.external_id


class _Candidates:
    """Every invoice a file's credits may pay, read in a few queries. One instance per
    invoice, kept current as the file's payments are recorded."""

    def __init__(self, credits: list[Credit]):
        self.invoices: dict[int, Invoice] = {}
        self.by_reference: dict[str, list[Invoice]] = defaultdict(list)
        references = {reference_normal(c.reference) for c in credits} - {""}
        for chunk in _chunks(references):
            found = Invoice.objects.annotate(reference_normal=_reference_normal_sql()).filter(
                reference_normal__in=chunk
            )
            for invoice in found.order_by("pk"):
                self.by_reference[invoice.reference_normal].append(self._one(invoice))
        self.by_txid: dict[str, Invoice] = {}
        for chunk in _chunks({c.txid for c in credits} - {""}):
            for invoice in Invoice.objects.filter(pix_txid__in=chunk):
                self.by_txid[invoice.pix_txid] = self._one(invoice)
        # Amount and date, for the credits nothing above names.
        rest = [c for c in credits if not self._named(c)]
        self.open: list[Invoice] = []
        if rest:
            days = [_paid_on(c) for c in rest]
            window = (
                min(days) - timedelta(days=DATE_TOLERANCE_DAYS),
                max(days) + timedelta(days=DATE_TOLERANCE_DAYS),
            )
            for chunk in _chunks({c.amount for c in rest}):
                found = (
                    Invoice.objects.filter(
                        status=InvoiceStatus.OPEN, effective_due_date__range=window
                    )
                    .annotate(due=F("amount") - F("amount_paid"))
                    .filter(due__in=chunk)
                )
                self.open += [self._one(invoice) for invoice in found.order_by("pk")]

    def _one(self, invoice: Invoice) -> Invoice:
        return self.invoices.setdefault(invoice.pk, invoice)

    def _named(self, credit: Credit) -> bool:
        return bool(
            self.by_reference.get(reference_normal(credit.reference))
            or self.by_txid.get(credit.txid)
        )

    def paid(self, invoice: Invoice) -> None:
        """A payment was recorded: the invoice's amount paid and status as they are now."""
        cached = self.invoices.get(invoice.pk)
        if cached is not None:
            cached.amount_paid, cached.status = invoice.amount_paid, invoice.status

    def match(self, credit: Credit) -> tuple[Invoice | None, str, str]:
        """(the invoice, how it was matched, "") or (None, "", why it waits for an agent —
        "" when nothing matched at all)."""
        reason = ""
        reference = reference_normal(credit.reference)
        named = self.by_reference.get(reference, []) if reference else []
        live = [invoice for invoice in named if invoice.status not in DEAD]
        if len(live) == 1:
            return live[0], "nosso_numero", ""
        if len(live) > 1:
            reason = _(
                "Nosso número %(ref)s is on %(n)s invoices (%(invoices)s): choose the one it pays."
            ) % {
                "ref": credit.reference,
                "n": len(live),
                "invoices": ", ".join(_label(i) for i in live),
            }
        elif named:
            return None, "", _dead(named[0], _("nosso número %(ref)s") % {"ref": credit.reference})
        if credit.txid and (invoice := self.by_txid.get(credit.txid)) is not None:
            if invoice.status in DEAD:
                return None, "", _dead(invoice, _("Pix txid %(txid)s") % {"txid": credit.txid})
            return invoice, "pix_txid", ""
        day = _paid_on(credit)
        candidates = [
            invoice
            for invoice in self.open
            if invoice.status == InvoiceStatus.OPEN
            and invoice.amount - invoice.amount_paid == credit.amount
            and abs((invoice.effective_due_date - day).days) <= DATE_TOLERANCE_DAYS
        ]
        if len(candidates) == 1 and not reason:
            return candidates[0], "amount_date", ""
        if len(candidates) > 1 and not reason:
            reason = _(
                "%(n)s open invoices with this amount due are due within %(days)s days of it "
                "(%(invoices)s): choose the one it pays."
            ) % {
                "n": len(candidates),
                "days": DATE_TOLERANCE_DAYS,
                "invoices": ", ".join(_label(i) for i in candidates[:5]),
            }
        return None, "", reason


def _dead(invoice: Invoice, how: str) -> str:
    if invoice.status == InvoiceStatus.CANCELLED:
        text = _(
            "Invoice %(invoice)s, which this credit pays (by its %(how)s), is cancelled: the "
            "payment was not recorded."
        )
    else:
        text = _(
            "Invoice %(invoice)s, which this credit pays (by its %(how)s), was written off: the "
            "payment was not recorded."
        )
    return text % {"invoice": _label(invoice), "how": how}


def _already_imported(credits: list[Credit]) -> set[str]:
    """The keys of the file's credits imported before: by their key, or by the key a file
    imported before keys named the account gave them (with the same amount and day, so that
    a credit of another account that happens to share it is not taken for it)."""
    keys = {c.key for c in credits}
    legacy = {c.legacy_key: c for c in credits if c.legacy_key}
    known = set()
    for chunk in _chunks(keys | set(legacy)):
        for key, amount, day in BankCredit.objects.filter(key__in=chunk).values_list(
            "key", "amount", "credited_on"
        ):
            if key in keys:
                known.add(key)
            old = legacy.get(key)
            if old is not None and (old.amount, old.credited_on) == (amount, day):
                known.add(old.key)
    return known


def bank_statement_import(*, tenant: Tenant, filename: str, content: bytes, actor=None):
    """Import a bank file. Raises BankFileError (nothing written) for a file it can't read,
    including one whose detail records are all unknown. The statement returned carries
    `not_payments`: (code, the bank's description, how many) for the file's movements that
    are not payments, and `review`: (credit, reason) for the credits left for an agent with
    a reason."""
    read = bank_file_read(content)
    credits = read.credits
    with transaction.atomic():
        statement = BankStatement.objects.create(
            tenant=tenant, kind=read.kind, filename=filename[:200], uploaded_by=actor
        )
        statement.not_payments = read.not_payments_by_code()
        statement.review = []
        known = _already_imported(credits)
        fresh = []
        for credit in credits:
            if credit.key in known:
                statement.duplicates += 1
                continue
            known.add(credit.key)
            fresh.append(credit)
        candidates = _Candidates(fresh)
        for credit in fresh:
            statement.credits += 1
            item = BankCredit(
                tenant=tenant,
                statement=statement,
                key=credit.key,
                amount=credit.amount,
                credited_on=credit.credited_on,
                paid_on=credit.paid_on,
                reference=credit.reference,
                description=credit.description,
                status=CreditStatus.UNMATCHED,
            )
            with translation.override(tenant.locale):  # the reasons, in the tenant's words
                invoice, how, reason = candidates.match(credit)
            if invoice is not None:
                try:
                    with transaction.atomic():  # a refusal undoes this credit's writes only
                        payment, _created = invoice_record_payment(
                            tenant=tenant,
                            invoice=invoice,
                            amount=credit.amount,
                            paid_at=paid_at_on(_paid_on(credit), tenant),
                            external_id=f"bank:{credit.key}",
                            source=PaymentSource.BANK_FILE,
                        )
                except PaymentError as exc:
                    with translation.override(tenant.locale):
                        reason = _(
                            "The payment of invoice %(invoice)s was not recorded: %(error)s"
                        ) % {"invoice": _label(invoice), "error": exc}
                else:
                    candidates.paid(payment.invoice)
                    item.status, item.matched_by = CreditStatus.MATCHED, how
                    item.invoice, item.payment = invoice, payment
                    statement.matched += 1
            item.review_reason = reason[:300]
            item.save()
            if reason:
                statement.review.append((item, reason))
        statement.save(update_fields=["credits", "matched", "duplicates"])
    return statement


def bank_credit_assign(*, tenant: Tenant, credit: BankCredit, invoice: Invoice, actor):
    """An agent matches a credit from the review queue to an invoice: it becomes its payment,
    dated the day the debtor paid. Raises PaymentError (nothing changed) when the invoice
    can't take it."""
    with transaction.atomic():
        credit = BankCredit.objects.select_for_update().get(pk=credit.pk)
        if credit.status != CreditStatus.UNMATCHED:
            return credit
        payment, _created = invoice_record_payment(
            tenant=tenant,
            invoice=invoice,
            amount=credit.amount,
            paid_at=paid_at_on(credit.paid_on or credit.credited_on, tenant),
            external_id=f"bank:{credit.key}"[:100],
            source=PaymentSource.BANK_FILE,
            actor=actor,
        )
        credit.status, credit.matched_by = CreditStatus.MATCHED, "agent"
        credit.invoice, credit.payment, credit.resolved_by = invoice, payment, actor
        credit.save(update_fields=["status", "matched_by", "invoice", "payment", "resolved_by"])
    return credit


def bank_credit_ignore(*, credit: BankCredit, actor) -> BankCredit:
    """Not a payment of any invoice (a transfer, a refund): out of the queue."""
    BankCredit.objects.filter(pk=credit.pk, status=CreditStatus.UNMATCHED).update(
        status=CreditStatus.IGNORED, resolved_by=actor
    )
    credit.refresh_from_db()
    return credit


def match_rule_label(matched_by: str) -> str:
    """The rule a credit was matched by, in words ("" for one not matched)."""
    return str(MATCH_RULES.get(matched_by, matched_by))


def matched_credits():
    """The credits recorded as payments, the latest imported first, with their invoice,
    customer, payment and file."""
    return (
        BankCredit.objects.filter(status=CreditStatus.MATCHED)
        .select_related("invoice__customer", "payment", "statement", "resolved_by")
        .order_by("-created_at", "-id")
    )


def statement_credits(statement: BankStatement):
    """A file's credits in the order it listed them, with what became of each."""
    return statement.items.select_related("invoice__customer", "payment", "resolved_by").order_by(
        "id"
    )
