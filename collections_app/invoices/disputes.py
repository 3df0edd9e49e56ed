"""Disputes: the debtor does not recognise or disagrees with a charge (a "contestação"). While an
invoice is disputed the ladder sends it nothing: the engine's rule (`engine/rules.py`) skips
its steps, and the reminders already queued about it are cancelled here through the same rule
the send-time guard applies (`reminders_recheck`), so a reminder that also names an invoice
still due goes on. The invoice page and the API call these services, so both write the same
timeline entry."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_app.activity.messages import reminders_recheck
from collections_app.activity.timeline import interaction_log
from collections_app.models import InteractionKind, Invoice, InvoiceStatus
from tenants.models import Tenant

REASON_MAX_LENGTH = 300


class DisputeError(ValueError):
    """A dispute that cannot be opened, with the reason in the user's language."""


def _same_tenant(tenant: Tenant, invoice: Invoice) -> None:
    if invoice.tenant_id != tenant.pk:
        raise Invoice.DoesNotExist


def invoice_dispute_open(*, tenant: Tenant, invoice: Invoice, reason: str, actor=None) -> Invoice:
    """Mark the open invoice disputed, with why (required, at most 300 characters), and log
    "Contestação aberta: <reason>" in its timeline; the reminders queued about it that the
    send-time rule now stops are cancelled (reason `disputed`). One transaction. Idempotent:
    an invoice already disputed is returned as it is, with no second entry (a conditional
    UPDATE, so two people opening it at once write one). Raises DisputeError."""
    _same_tenant(tenant, invoice)
    reason = " ".join((reason or "").split())
    if not reason:
        raise DisputeError(_("Say why the customer disputes the invoice."))
    if len(reason) > REASON_MAX_LENGTH:
        raise DisputeError(
            _("The reason can have at most %(n)s characters.") % {"n": REASON_MAX_LENGTH}
        )
    if invoice.status != InvoiceStatus.OPEN:
        raise DisputeError(_("Only an open invoice can be disputed."))
    with transaction.atomic():
        opened = Invoice.objects.filter(pk=invoice.pk, disputed=False).update(
            disputed=True, dispute_reason=reason, updated_at=timezone.now()
        )
        if not opened:
            invoice.refresh_from_db(fields=["disputed", "dispute_reason", "updated_at"])
            return invoice
        invoice.refresh_from_db(fields=["disputed", "dispute_reason", "updated_at"])
        interaction_log(
            tenant=tenant,
            customer_id=invoice.customer_id,
            invoice=invoice,
            kind=InteractionKind.DISPUTE,
            actor=actor,
            summary=f"Contestação aberta: {reason}",
            data={"dispute": "opened", "reason": reason},
        )
        reminders_recheck(tenant=tenant, invoice=invoice)
    return invoice


def invoice_dispute_close(*, tenant: Tenant, invoice: Invoice, actor=None) -> Invoice:
    """Clear the invoice's dispute and log "Contestação encerrada" (with the reason it had) in
    its timeline. The ladder resumes from its next step: the steps skipped meanwhile keep their
    skipped ledger rows and are not sent late. Idempotent: an invoice not disputed is returned
    as it is, with no entry."""
    _same_tenant(tenant, invoice)
    with transaction.atomic():
        # The reason it had, read under the same condition that clears it.
        had = (
            Invoice.objects.filter(pk=invoice.pk, disputed=True)
            .select_for_update()
            .values_list("dispute_reason", flat=True)
            .first()
        )
        closed = Invoice.objects.filter(pk=invoice.pk, disputed=True).update(
            disputed=False, dispute_reason="", updated_at=timezone.now()
        )
        invoice.refresh_from_db(fields=["disputed", "dispute_reason", "updated_at"])
        if not closed:
            return invoice
        interaction_log(
            tenant=tenant,
            customer_id=invoice.customer_id,
            invoice=invoice,
            kind=InteractionKind.DISPUTE,
            actor=actor,
            summary="Contestação encerrada",
            data={"dispute": "closed", "reason": had or ""},
        )
    return invoice
