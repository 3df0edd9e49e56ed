"""An agent's actions on several invoices of the queue at once: give each a follow-up task
for a member, pause their reminders, or send each a message from a template now. Each goes
through the same service as the action on one invoice (so the same timeline entries are
written), and the whole batch is refused when any id is not one of the tenant's invoices."""

from datetime import date

from django.utils.translation import gettext as _

from collections_app.activity.agent_actions import (
    ActionError,
    invoice_pause,
    manual_message_send,
)
from collections_app.activity.followups import followup_task_create
from collections_app.models import Invoice
from messaging.models import Template
from tenants.models import Membership, Tenant

BULK_MAX = 200


def bulk_invoices(*, ids: list[str]) -> list[Invoice]:
    """The tenant's invoices with these ids (the tenant's scope filters the others out); an
    ActionError when none is chosen, too many are, or one is not the tenant's."""
    wanted = {int(i) for i in ids if str(i).isdigit()}
    if not wanted or len(wanted) != len(ids):
        raise ActionError(_("Select at least one invoice."))
    if len(wanted) > BULK_MAX:
        raise ActionError(_("Select at most %(n)s invoices at a time.") % {"n": BULK_MAX})
    invoices = list(Invoice.objects.filter(pk__in=wanted).select_related("customer"))
    if len(invoices) != len(wanted):
        raise ActionError(_("Some of the selected invoices do not exist."))
    return sorted(invoices, key=lambda inv: inv.pk)


def invoices_assign(*, tenant: Tenant, invoices: list[Invoice], assignee_id: int, actor) -> int:
    """A follow-up task on each invoice, given to one member of the tenant."""
    if not Membership.objects.filter(tenant=tenant, user_id=assignee_id).exists():
        raise ActionError(_("Choose a member of the team."))
    for invoice in invoices:
        followup_task_create(
            tenant=tenant,
            customer_id=invoice.customer_id,
            invoice=invoice,
            title=f"Acompanhar fatura {invoice}",
            origin="manual",
            assignee_id=assignee_id,
            data={"assigned_by": getattr(actor, "pk", None)},
        )
    return len(invoices)


def invoices_pause(
    *, tenant: Tenant, invoices: list[Invoice], actor, until: date, today: date
) -> int:
    """Pause the reminders of each invoice until a date (inclusive)."""
    for invoice in invoices:
        invoice_pause(tenant=tenant, invoice=invoice, actor=actor, until=until, today=today)
    return len(invoices)


def invoices_message(
    *, tenant: Tenant, invoices: list[Invoice], actor, template: Template
) -> tuple[int, list[str]]:
    """Queue a message from the template about each invoice now. Returns how many were queued
    and, for the others, why not (one line per invoice)."""
    done, failed = 0, []
    for invoice in invoices:
        try:
            manual_message_send(tenant=tenant, invoice=invoice, actor=actor, template=template)
        except ActionError as exc:
            failed.append(f"{invoice}: {exc}")
        else:
            done += 1
    return done, failed
