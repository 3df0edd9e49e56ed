"""Bank reconciliation: importing a return file or statement, and the review queue of the
credits nothing matched."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from collections_app.models import (
    BankCredit,
    BankStatement,
    CreditStatus,
    Invoice,
)
from collections_app.payments.bank_files import BankFileError, not_payments_summary
from collections_app.payments.credit_suggestions import credit_suggestions
from collections_app.payments.reconciliation import (
    bank_credit_assign,
    bank_credit_ignore,
    bank_statement_import,
    match_rule_label,
    matched_credits,
    statement_credits,
)
from collections_app.payments.services import PaymentError
from collections_app.web.uploads import file_upload_error
from tenants.decorators import tenant_required
from tenants.selectors import tenant_today

QUEUE_SHOWN = 50  # credits of the review queue shown, each with its suggestions
MATCHED_SHOWN = 50
STATEMENT_PAGE = 100


@require_http_methods(["GET", "POST"])
@tenant_required("agent")
def bank(request):
    """Bank reconciliation: import a return file or statement; the credits nothing matched wait
    here for an agent."""
    if request.method == "POST":
        if error := file_upload_error(request, max_bytes=20 * 1024 * 1024):
            return bank_page(request, file_error=error, status=400)
        upload = request.FILES["file"]
        try:
            statement = bank_statement_import(
                tenant=request.tenant,
                filename=upload.name or "",
                content=upload.read(),
                actor=request.user,
            )
        except BankFileError as exc:
            error = _("The file was not imported: %(error)s") % {"error": exc}
            return bank_page(request, file_error=error, status=400)
        else:
            messages.success(
                request,
                _(
                    "%(credits)s credits read: %(matched)s matched and recorded as payments, "
                    "%(review)s to review, %(duplicates)s already imported."
                )
                % {
                    "credits": statement.credits,
                    "matched": statement.matched,
                    "review": statement.credits - statement.matched,
                    "duplicates": statement.duplicates,
                },
            )
            # Entries, rejections, write-offs, fees: named per code, never dropped unseen.
            if summary := not_payments_summary(statement.not_payments):
                messages.info(request, summary)
            # A cancelled invoice, two invoices for one nosso número, a refused payment:
            # the credit waits in the queue, and the agent is told why.
            if statement.review:
                reasons = [reason for _credit, reason in statement.review]
                listed = " · ".join(reasons[:5]) + (" · …" if len(reasons) > 5 else "")
                messages.warning(
                    request,
                    ngettext(
                        "%(n)s credit waits for review: %(reasons)s",
                        "%(n)s credits wait for review: %(reasons)s",
                        len(reasons),
                    )
                    % {"n": len(reasons), "reasons": listed},
                )
        return redirect("bank")
    return bank_page(request)


def bank_page(request, *, refused=None, file_error: str = "", status: int = 200):
    """The reconciliation page; `refused` = (credit, message, what was typed) puts an
    assignment's error beside that credit's invoice number field, `file_error` an import's
    beside the file field, answered `status`."""
    waiting = BankCredit.objects.filter(status=CreditStatus.UNMATCHED)
    queue = list(waiting.select_related("statement")[:QUEUE_SHOWN])
    today = tenant_today(tenant=request.tenant)
    for credit in queue:
        credit.suggestions = credit_suggestions(tenant=request.tenant, credit=credit, today=today)
        if refused and refused[0].pk == credit.pk:
            credit.errors, credit.typed = [refused[1]], refused[2]
            credit.error_id = f"credit-{credit.pk}-errors"
    matched = matched_credits()
    recent = list(matched[:MATCHED_SHOWN])
    for credit in recent:
        credit.rule = match_rule_label(credit.matched_by)
    return render(
        request,
        "collections/bank.html",
        {
            "statements": BankStatement.objects.select_related("uploaded_by")[:20],
            "queue": queue,
            "queue_count": waiting.count(),
            "matched": recent,
            "matched_count": matched.count(),
            "file_errors": [file_error] if file_error else [],
        },
        status=status,
    )


@require_http_methods(["GET"])
@tenant_required("agent")
def bank_statement(request, pk: int):
    """One imported file: each of its credits and what became of it."""
    statement = get_object_or_404(BankStatement.objects.select_related("uploaded_by"), pk=pk)
    page = Paginator(statement_credits(statement), STATEMENT_PAGE).get_page(request.GET.get("page"))
    for credit in page:
        credit.rule = match_rule_label(credit.matched_by)
    return render(
        request, "collections/bank_statement.html", {"statement": statement, "page": page}
    )


@require_POST
@tenant_required("agent")
def bank_credit_resolve(request, pk: int):
    """Assign a credit of the review queue to an invoice (by its number or external id), or
    ignore it."""
    credit = get_object_or_404(BankCredit, pk=pk)
    if request.POST.get("ignore"):
        bank_credit_ignore(credit=credit, actor=request.user)
        messages.success(request, _("Credit ignored."))
        return redirect("bank")
    # A suggestion names the invoice by its id; the typed form, by its number or external id.
    chosen = (request.POST.get("invoice_id") or "").strip()
    ref = (request.POST.get("invoice") or "").strip()
    if chosen:
        invoice = Invoice.objects.filter(pk=chosen).first() if chosen.isdigit() else None
    else:
        invoice = (
            Invoice.objects.filter(Q(external_id=ref) | Q(number=ref)).first() if ref else None
        )
    if invoice is None:
        if chosen:  # a suggestion that is no invoice of this company (any more)
            message = _("No invoice with that number.")
        elif ref:
            message = _("No invoice with the number %(n)s.") % {"n": ref}
        else:
            message = _("Type the invoice's number.")
        return bank_page(request, refused=(credit, message, ref), status=400)
    try:
        bank_credit_assign(
            tenant=request.tenant, credit=credit, invoice=invoice, actor=request.user
        )
    except PaymentError as exc:
        return bank_page(request, refused=(credit, str(exc), ref), status=400)
    messages.success(request, _("Credit recorded as a payment of %(n)s.") % {"n": invoice})
    return redirect("bank")
