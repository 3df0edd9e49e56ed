"""The day's plan: what the evaluation does with each invoice × step it found due.

Made on plain tuples, without a query: after an outage only the latest missed step of an
invoice is decided, the others are skipped as "superseded"; the latest one goes through the
rule (`rules.step_skip_reason`, judged today) and, for a message step, the channel choice
(`channels.channels_pick`)."""

from datetime import date
from typing import NamedTuple

from collections_app.engine.channels import channels_pick
from collections_app.engine.due import DueInvoice
from collections_app.engine.rules import StepFacts, below_minimum, step_skip_reason
from collections_app.engine.templates import GroupTemplates
from collections_app.models import DispatchStatus, LadderStep, StepKind, contact_addresses


class Decision(NamedTuple):
    """What the day does with one invoice × step; `channels` holds (channel, address,
    template id, template subject) for a queued message step."""

    invoice: DueInvoice
    step: LadderStep
    runs_on: date
    status: str
    reason: str = ""
    channels: tuple = ()


def plan_make(
    *,
    candidates: dict[int, list[tuple[date, LadderStep]]],
    invoices: dict[int, DueInvoice],
    templates: GroupTemplates,
    today: date,
    promised: dict[int, date],
) -> list[Decision]:
    """One decision per candidate (invoice id → [(day the step runs, step)]): the latest step
    of each invoice decided, the earlier ones superseded. `promised` maps an invoice to the
    latest date of its open promise."""
    plan = []
    for invoice_id, options in candidates.items():
        options.sort(key=lambda o: (o[0], o[1].offset_days))
        invoice = invoices[invoice_id]
        *missed, (runs_on, step) = options
        for missed_on, missed_step in missed:
            plan.append(
                Decision(invoice, missed_step, missed_on, DispatchStatus.SKIPPED, "superseded")
            )
        plan.append(_decide(invoice, step, runs_on, templates, today, promised))
    return plan


def _decide(
    invoice: DueInvoice,
    step: LadderStep,
    runs_on: date,
    templates: GroupTemplates,
    today: date,
    promised: dict[int, date],
) -> Decision:
    """The day's decision for the invoice's latest due step, judged today (`rules`, then the
    channel choice for a message step)."""
    facts = StepFacts(
        status=invoice.status,
        disputed=invoice.disputed,
        paused_until=invoice.paused_until,
        customer_paused_until=invoice.customer_paused_until,
        promised_until=promised.get(invoice.id),
        skip_while_promise=step.skip_while_promise,
        below_min_amount=below_minimum(amount_due=invoice.amount_due, min_amount=step.min_amount),
    )
    if skip := step_skip_reason(facts, on=today):
        return Decision(invoice, step, runs_on, DispatchStatus.SKIPPED, skip)
    if step.kind == StepKind.TASK:
        return Decision(invoice, step, runs_on, DispatchStatus.TASK)

    addresses = contact_addresses(
        email=invoice.email, phone=invoice.phone, whatsapp=invoice.whatsapp
    )
    chosen, reason = channels_pick(
        step=step,
        preferred=invoice.preferred_channels,
        opted_out=invoice.opted_out_channels,
        invalid=invoice.invalid_channels,
        reachable=addresses,
        templates=templates.keys.get(invoice.tenant_id, ()),
    )
    if not chosen:
        return Decision(invoice, step, runs_on, DispatchStatus.SKIPPED, reason)
    channels = tuple(
        (c, addresses[c], *templates.found[(invoice.tenant_id, step.template_key, c)])
        for c in chosen
    )
    return Decision(invoice, step, runs_on, DispatchStatus.QUEUED, channels=channels)
