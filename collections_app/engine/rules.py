"""May a ladder step go out for an invoice: the one rule the daily evaluation, `explain`, the
forecast and the send-time guard share (as `channels.py` is for the channel choice).

Facts in, a reason code or None out; no database access. Each caller reads the facts its own
way (the evaluation from one SQL statement, `explain` from the invoice, the forecast from
grouped rows, the guard from a send batch's prefetch) and asks `step_skip_reason`. The checks,
first match wins:

1. `evaluated_today`: the step's day was already evaluated (`evaluated_through`, given only by
   `explain` and the forecast: the evaluation itself, and a send, have no such day);
2. `invoice_<status>`: the invoice is no longer open (paid, cancelled, written off, in
   agreement);
3. `disputed`;
4. `promise_open`: the step skips while a promise is open (`skip_while_promise`) and an open
   promise runs to the step's day or later — a step with the flag off goes out regardless;
5. `paused`: the invoice or its customer is paused through the day;
6. `below_min_amount`: the amount due is below the step's minimum.

The channel checks (opted out, no contact, no template…) come after these, in
`channels.channels_pick`.

At send time (`send_stop_reason`) a message leaves unless its channel was left by the customer
or, for a reminder, none of its invoices may get its step any more; the reason is then given in
the words a cancelled message keeps (`in_agreement`, `invoice_paid`, `invoice_cancelled`,
`disputed`, `promise_open`, `customer_paused`, `invoice_paused`, `below_min_amount`, in that
order of precedence when the invoices of one message disagree)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from collections_app.models import InvoiceStatus


@dataclass(frozen=True)
class StepFacts:
    """What the rule needs to know of one invoice, its customer and one step.

    `promised_until` is the latest date of the invoice's open promise (None: no open promise);
    `below_min_amount` is `below_minimum(amount_due=…, min_amount=step.min_amount)`, or the
    same comparison made by the database for a group of invoices."""

    status: str = InvoiceStatus.OPEN
    disputed: bool = False
    paused_until: date | None = None
    customer_paused_until: date | None = None
    promised_until: date | None = None
    skip_while_promise: bool = True
    below_min_amount: bool = False
    evaluated_through: date | None = None


def below_minimum(*, amount_due: Decimal, min_amount: Decimal | None) -> bool:
    """Whether the amount due is below a step's minimum (a step without one has no floor)."""
    return min_amount is not None and amount_due < min_amount


def invoice_closed_reason(status: str) -> str | None:
    """`invoice_<status>` for an invoice that is no longer open, else None."""
    return None if status == InvoiceStatus.OPEN else f"invoice_{status}"


def _through(until: date | None, day: date) -> bool:
    return until is not None and until >= day


def step_skip_reason(facts: StepFacts, *, on: date) -> str | None:
    """Why the step would be skipped on day `on`, or None when it may go out (channels apart);
    the order of checks is the module's."""
    if facts.evaluated_through is not None and on <= facts.evaluated_through:
        return "evaluated_today"
    if closed := invoice_closed_reason(facts.status):
        return closed
    if facts.disputed:
        return "disputed"
    if facts.skip_while_promise and _through(facts.promised_until, on):
        return "promise_open"
    if _through(facts.paused_until, on) or _through(facts.customer_paused_until, on):
        return "paused"
    if facts.below_min_amount:
        return "below_min_amount"
    return None


# A skip reason in the words a cancelled message keeps (the same as the services that cancel
# queued reminders directly use); "paused" is told apart by who is paused.
_SEND_STOP_CODES = {
    "invoice_in_agreement": "in_agreement",
    "invoice_paid": "invoice_paid",
    "invoice_cancelled": "invoice_cancelled",
    "invoice_written_off": "invoice_cancelled",
}
_SEND_STOP_ORDER = (
    "in_agreement",
    "invoice_paid",
    "invoice_cancelled",
    "disputed",
    "promise_open",
    "customer_paused",
    "invoice_paused",
    "below_min_amount",
)


def _send_stop_code(reason: str, facts: StepFacts, today: date) -> str:
    if reason == "paused":
        return (
            "customer_paused" if _through(facts.customer_paused_until, today) else "invoice_paused"
        )
    return _SEND_STOP_CODES.get(reason, reason)


def send_stop_reason(
    *,
    channel: str,
    opted_out_channels: Sequence[str] | None,
    reminder: bool,
    invoices: Sequence[StepFacts],
    today: date,
) -> str | None:
    """Why a queued message about `invoices` (one set of facts per invoice, with the step that
    queued it) must not leave today, or None. Stop means stop: a channel the customer left is
    refused for any message; a reminder leaves while at least one of its invoices may still get
    its step. A message about no invoice is never stopped here."""
    if not invoices:
        return None
    if channel in (opted_out_channels or ()):
        return "opted_out"
    if not reminder:
        return None
    codes = []
    for facts in invoices:
        reason = step_skip_reason(facts, on=today)
        if reason is None:
            return None
        codes.append(_send_stop_code(reason, facts, today))
    return min(codes, key=_SEND_STOP_ORDER.index)
