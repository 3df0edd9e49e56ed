"""Bank reconciliation: the credits of a bank file become payments of the invoices they pay.

Each credit is matched, in this order:
1. by nosso número (`Invoice.bank_reference`);
2. by a Pix txid of ours in the statement's memo (`Invoice.pix_txid`);
3. by amount and date: the only open invoice of the tenant whose amount due equals the credit,
   due within 5 days of it.

A match is recorded as the invoice's payment (source "bank_file"; idempotent on the credit).
A credit that matches nothing, or more than one invoice, waits in the review queue until an
agent assigns it to an invoice or ignores it. The whole file is one transaction, and a credit
already imported (the same file again, or overlapping statements) is skipped. The movements of
the file that are not payments (entries, rejections, write-offs, fees) are not recorded; the
result lists them per code (`statement.not_payments`) so the agent is told."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from tenants.models import Tenant

from .bank_files import Credit, bank_file_read
from .models import (
    BankCredit,
    BankStatement,
    CreditStatus,
    Invoice,
    InvoiceStatus,
    PaymentSource,
)
from .services import invoice_record_payment

DATE_TOLERANCE_DAYS = 5


def _match(credit: Credit) -> tuple[Invoice | None, str]:
    if credit.reference:
        found = list(
            Invoice.objects.filter(
                bank_reference__in={credit.reference, credit.reference.zfill(20)}
            )[:2]
        )
        if len(found) == 1:
            return found[0], "nosso_numero"
    if credit.txid:
        invoice = Invoice.objects.filter(pix_txid=credit.txid).first()
        if invoice is not None:
            return invoice, "pix_txid"
    window = (
        credit.credited_on - timedelta(days=DATE_TOLERANCE_DAYS),
        credit.credited_on + timedelta(days=DATE_TOLERANCE_DAYS),
    )
    candidates = list(
        Invoice.objects.filter(status=InvoiceStatus.OPEN, effective_due_date__range=window)
        .annotate(due=F("amount") - F("amount_paid"))
        .filter(due=credit.amount)[:2]
    )
    if len(candidates) == 1:
        return candidates[0], "amount_date"
    return None, ""


def _paid_at(tenant: Tenant, day) -> datetime:
    paid_at = datetime.combine(day, time(12), tzinfo=ZoneInfo(tenant.timezone))
    return min(paid_at, timezone.now())


def bank_statement_import(*, tenant: Tenant, filename: str, content: bytes, actor=None):
    """Import a bank file. Raises BankFileError (nothing written) for a file it can't read,
    including one whose detail records are all unknown. The statement returned carries
    `not_payments`: (code, the bank's description, how many) for the file's movements that
    are not payments."""
    read = bank_file_read(content)
    credits = read.credits
    with transaction.atomic():
        statement = BankStatement.objects.create(
            tenant=tenant, kind=read.kind, filename=filename[:200], uploaded_by=actor
        )
        statement.not_payments = read.not_payments_by_code()
        known = set(
            BankCredit.objects.filter(key__in=[c.key for c in credits]).values_list(
                "key", flat=True
            )
        )
        for credit in credits:
            if credit.key in known:
                statement.duplicates += 1
                continue
            known.add(credit.key)
            statement.credits += 1
            invoice, how = _match(credit)
            item = BankCredit(
                tenant=tenant,
                statement=statement,
                key=credit.key,
                amount=credit.amount,
                credited_on=credit.credited_on,
                reference=credit.reference,
                description=credit.description,
                status=CreditStatus.UNMATCHED,
            )
            if invoice is not None:
                payment, _created = invoice_record_payment(
                    tenant=tenant,
                    invoice=invoice,
                    amount=credit.amount,
                    paid_at=_paid_at(tenant, credit.credited_on),
                    external_id=f"bank:{credit.key}"[:100],
                    source=PaymentSource.BANK_FILE,
                )
                item.status, item.matched_by = CreditStatus.MATCHED, how
                item.invoice, item.payment = invoice, payment
                statement.matched += 1
            item.save()
        statement.save(update_fields=["credits", "matched", "duplicates"])
    return statement


def bank_credit_assign(*, tenant: Tenant, credit: BankCredit, invoice: Invoice, actor):
    """An agent matches a credit from the review queue to an invoice: it becomes its payment."""
    with transaction.atomic():
        credit = BankCredit.objects.select_for_update().get(pk=credit.pk)
        if credit.status != CreditStatus.UNMATCHED:
            return credit
        payment, _created = invoice_record_payment(
            tenant=tenant,
            invoice=invoice,
            amount=credit.amount,
            paid_at=_paid_at(tenant, credit.credited_on),
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
