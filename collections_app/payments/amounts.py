"""The one bound on money entering Régua, so that every sum it keeps fits its column.

Invoice.amount, Invoice.amount_paid, Payment.amount and BankCredit.amount are
DecimalField(max_digits=14, decimal_places=2): at most R$ 999.999.999.999,99, which PostgreSQL
enforces (an overflowing value is an error, a 500 if it reaches the database; SQLite stores
it). So:

- any one amount that enters — an invoice's amount, a payment, a bank credit, an agreement's
  total — is at most `AMOUNT_MAX`, R$ 9.999.999.999,99, and has at most two decimals;
- an invoice's amount paid never passes its amount by more than `AMOUNT_MAX` (the overpayment
  allowance: a duplicated payment of the largest invoice still fits, and its excess becomes the
  team's refund task as any overpayment does), and never its column.

Hence amount_paid ≤ 2 × AMOUNT_MAX, a hundred times below its column's limit. The API, the
pages, the import, the payment webhook and the bank files check `amount_refusal` where the
amount is read; `invoice_record_payment`, which every payment goes through, checks
`payment_refusal` before writing anything."""

from decimal import Decimal

from django.utils.translation import gettext as _

from collections_app.models import Invoice
from collections_app.money import CENT, format_money

AMOUNT_MAX = Decimal("9999999999.99")


def _column_max(model, name: str) -> Decimal:
    field = model._meta.get_field(name)
    return Decimal(10 ** (field.max_digits - field.decimal_places)) - CENT


AMOUNT_PAID_COLUMN_MAX = _column_max(Invoice, "amount_paid")


def amount_max_message() -> str:
    return _("The amount can be at most %(max)s.") % {"max": format_money(AMOUNT_MAX)}


def amount_refusal(amount: Decimal) -> str | None:
    """None when `amount` is a positive number of reais and centavos within the bound, else
    why not (in the user's language)."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        return _("The amount must be a number, such as 1.234,50.")
    if amount <= 0:
        return _("The amount must be greater than zero.")
    if amount != amount.quantize(CENT):
        return _("The amount can have at most two decimal places.")
    if amount > AMOUNT_MAX:
        return amount_max_message()
    return None


def payment_refusal(*, invoice: Invoice, amount: Decimal) -> str | None:
    """None when `amount` may be paid against `invoice` (as it stands: read it locked), else
    why not: `amount_refusal`, or an amount paid beyond the invoice's amount plus the
    allowance."""
    refused = amount_refusal(amount)
    if refused:
        return refused
    ceiling = min(invoice.amount + AMOUNT_MAX, AMOUNT_PAID_COLUMN_MAX)
    if invoice.amount_paid + amount > ceiling:
        return _(
            "This payment would bring the amount paid on invoice %(number)s to more than its "
            "amount plus %(max)s: check the amount."
        ) % {"number": invoice.number or invoice.external_id, "max": format_money(AMOUNT_MAX)}
    return None
