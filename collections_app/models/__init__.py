"""The domain's models, one module per aggregate. Every public name is re-exported here, so
`from collections_app.models import Invoice` works wherever it is written.

| module | holds |
| --- | --- |
| customers | Segment, Customer, their behaviour class and contact addresses |
| invoices | Invoice, its statuses, payment token and Pix txid |
| payments | Payment, PaymentPromise, Agreement, PaymentClaim |
| ladders | Ladder, LadderStep, the send ledger (Dispatch, InvoiceMessage) |
| activity | Interaction (the timeline), FollowUpTask |
| stats | DailyStat, FunnelStat |
| webhooks | WebhookEndpoint, WebhookDelivery |
| bank | BankStatement, BankCredit |
| imports | ImportJob |
| queues | QueueFilter (a user's saved queue filter) |
"""

from collections_app.models.activity import (
    FollowUpTask,
    Interaction,
    InteractionKind,
    TaskStatus,
)
from collections_app.models.bank import BankCredit, BankStatement, CreditStatus
from collections_app.models.customers import Behaviour, Customer, Segment, contact_addresses
from collections_app.models.imports import ImportJob, ImportStatus
from collections_app.models.invoices import (
    Invoice,
    InvoiceStatus,
    new_payment_token,
    new_pix_txid,
)
from collections_app.models.ladders import (
    SKIP_REASONS,
    ChannelMode,
    DayKind,
    Dispatch,
    DispatchStatus,
    InvoiceMessage,
    Ladder,
    LadderStep,
    StepKind,
)
from collections_app.models.payments import (
    Agreement,
    AgreementStatus,
    Payment,
    PaymentClaim,
    PaymentPromise,
    PaymentSource,
    PromiseStatus,
)
from collections_app.models.queues import QueueFilter
from collections_app.models.stats import DailyStat, FunnelStat
from collections_app.models.webhooks import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    new_webhook_secret,
)

__all__ = [
    "SKIP_REASONS",
    "Agreement",
    "AgreementStatus",
    "BankCredit",
    "BankStatement",
    "Behaviour",
    "ChannelMode",
    "CreditStatus",
    "Customer",
    "DailyStat",
    "DayKind",
    "DeliveryStatus",
    "Dispatch",
    "DispatchStatus",
    "FollowUpTask",
    "FunnelStat",
    "ImportJob",
    "ImportStatus",
    "Interaction",
    "InteractionKind",
    "Invoice",
    "InvoiceMessage",
    "InvoiceStatus",
    "Ladder",
    "LadderStep",
    "Payment",
    "PaymentClaim",
    "PaymentPromise",
    "PaymentSource",
    "PromiseStatus",
    "QueueFilter",
    "Segment",
    "StepKind",
    "TaskStatus",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "contact_addresses",
    "new_payment_token",
    "new_pix_txid",
    "new_webhook_secret",
]
