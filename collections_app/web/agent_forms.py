"""What the customer and invoice pages share of an agent's actions: a call or a note posted
for the timeline, and the date a pause runs until."""

from datetime import date

from django.utils.translation import gettext as _

from collections_app.activity.agent_actions import ActionError, call_record, note_record
from collections_app.web.form_errors import typed_date


def call_or_note_record(*, request, action: str, customer_id: int, invoice=None) -> str:
    """Record the posted call (`outcome`, `note`) or note (`text`) in the customer's timeline,
    about `invoice` if one is given. Returns what to tell the agent; raises ActionError."""
    post = request.POST
    if action == "call":
        call_record(
            tenant=request.tenant,
            customer_id=customer_id,
            invoice=invoice,
            actor=request.user,
            outcome=post.get("outcome", ""),
            note=post.get("note", ""),
        )
        return _("Call recorded.")
    note_record(
        tenant=request.tenant,
        customer_id=customer_id,
        invoice=invoice,
        actor=request.user,
        text=post.get("text", ""),
    )
    return _("Note added.")


def pause_until(request, action: str) -> date | None:
    """The posted `until` of a pause, or None to resume. Raises ActionError for a pause
    without a date."""
    try:
        until = typed_date(request.POST.get("until")) if action == "pause" else None
    except ValueError as exc:
        raise ActionError(str(exc)) from exc
    if action == "pause" and until is None:
        raise ActionError(_("Choose a date."))
    return until
