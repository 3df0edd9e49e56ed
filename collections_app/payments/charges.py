"""What a debtor owes today: the amount still due plus, once the invoice is overdue, the
tenant's late fine and default interest pro rata die; or minus the early-payment discount
before the due date. Each part is shown apart on the payment page, and the Pix code asks for
the total.

Consumer debts (the customer's document is a CPF) are capped as the Código de Defesa do
Consumidor (art. 52 §1) and the usury law set them: at most a 2 % fine and 1 % interest a month,
whatever the tenant's settings say. Interest counts calendar days after the effective due date,
on a 30-day month (1 % a month = 0,0333 % a day)."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from collections_app.documents import is_cpf
from collections_app.models import Invoice, InvoiceStatus
from collections_app.money import quantize
from tenants.models import Tenant

CONSUMER_MAX_FINE = Decimal("2")
CONSUMER_MAX_MONTHLY_INTEREST = Decimal("1")
DAYS_IN_MONTH = Decimal(30)


@dataclass(frozen=True)
class Charges:
    principal: Decimal  # the amount still due
    fine: Decimal
    interest: Decimal
    discount: Decimal
    days_late: int
    fine_percent: Decimal
    monthly_interest_percent: Decimal
    capped: bool  # a consumer debt whose settings were lowered to the legal caps
    discount_until: date | None

    @property
    def total(self) -> Decimal:
        return self.principal + self.fine + self.interest - self.discount

    @property
    def daily_interest_percent(self) -> Decimal:
        return (self.monthly_interest_percent / DAYS_IN_MONTH).quantize(Decimal("0.0001"))


def invoice_charges(*, tenant: Tenant, invoice: Invoice, today: date) -> Charges:
    principal = quantize(invoice.amount_due)
    fine_pct = Decimal(tenant.late_fine_percent)
    interest_pct = Decimal(tenant.monthly_interest_percent)
    capped = False
    if is_cpf(invoice.customer.document or ""):
        capped = fine_pct > CONSUMER_MAX_FINE or interest_pct > CONSUMER_MAX_MONTHLY_INTEREST
        fine_pct = min(fine_pct, CONSUMER_MAX_FINE)
        interest_pct = min(interest_pct, CONSUMER_MAX_MONTHLY_INTEREST)
    zero = Decimal("0.00")
    open_ = invoice.status == InvoiceStatus.OPEN and principal > 0
    days_late = max(0, (today - invoice.effective_due_date).days) if open_ else 0
    fine = interest = discount = zero
    discount_until = None
    if days_late:
        fine = quantize(principal * fine_pct / 100)
        interest = quantize(principal * interest_pct / 100 / DAYS_IN_MONTH * days_late)
    elif open_ and tenant.early_discount_percent > 0:
        until = invoice.effective_due_date - timedelta(days=tenant.early_discount_days)
        if today <= until:
            discount = quantize(principal * Decimal(tenant.early_discount_percent) / 100)
            discount_until = until
    return Charges(
        principal=principal,
        fine=fine,
        interest=interest,
        discount=discount,
        days_late=days_late,
        fine_percent=fine_pct,
        monthly_interest_percent=interest_pct,
        capped=capped,
        discount_until=discount_until,
    )
