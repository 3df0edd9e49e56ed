"""The segment pages: segments in priority order with the customers their rules match, and
the segment form with a live count of its rule. Pages read with the viewer role; every
write needs admin. Segments are saved and counted by the services the API uses too
(`segment_save`, `segment_counts`, `segment_rule_count`)."""

from django import forms
from django.contrib import messages
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from collections_app.invoices.segments import (
    SegmentError,
    segment_counts,
    segment_rule_clean,
    segment_rule_count,
    segment_save,
)
from collections_app.models import Behaviour, Customer, Ladder, Segment
from collections_app.money import format_money
from collections_app.web.permissions import writes_need_admin
from tenants.decorators import tenant_required

RULE_KINDS = {
    "amount_at_least": gettext_lazy("Open amount at least"),
    "tag": gettext_lazy("Customer tag"),
    "behaviour": gettext_lazy("Payment behaviour"),
    "manual": gettext_lazy("Placed by hand"),
}  # SEGMENT_RULE_KINDS, each labelled


def _rule_text(rule: dict, currency: str) -> str:
    """A rule as a sentence in the user's language."""
    kind, value = rule.get("kind"), rule.get("value")
    if kind == "amount_at_least":
        try:
            amount = format_money(value, currency, translation.get_language() or "pt-br")
        except (ArithmeticError, TypeError, ValueError):
            amount = str(value)
        return _("Open amount at least %(amount)s") % {"amount": amount}
    if kind == "tag":
        return _("Tagged “%(tag)s”") % {"tag": value}
    if kind == "behaviour" and value in Behaviour.values:
        return _("Payment behaviour: %(behaviour)s") % {"behaviour": Behaviour(value).label}
    return _("Customers placed here by hand")


def _rule_from(params) -> dict:
    kind = params.get("rule_kind", "")
    value = {
        "amount_at_least": params.get("rule_amount", "").strip(),
        "tag": params.get("rule_tag", "").strip(),
        "behaviour": params.get("rule_behaviour", ""),
    }.get(kind)
    return {"kind": kind} if value is None else {"kind": kind, "value": value}


def _rule_checked(rule: dict) -> tuple[dict | None, list[str]]:
    """The rule as `segment_save` would store it, or None with the reasons it would refuse it."""
    try:
        return segment_rule_clean(rule), []
    except SegmentError as exc:
        return None, exc.errors["rule"]


class SegmentForm(forms.Form):
    """The segment's plain fields as the page posts them; the rule is read by `_rule_from`."""

    name = forms.CharField(max_length=100)
    priority = forms.IntegerField(min_value=0, max_value=2147483647)
    ladder = forms.ModelChoiceField(queryset=Ladder.objects.none())

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ladder"].queryset = Ladder.objects.filter(tenant=tenant)


@require_GET
@tenant_required()
def segment_list(request):
    segments = list(Segment.objects.select_related("ladder").annotate(now_in=Count("customers")))
    counts = segment_counts(tenant=request.tenant, segments=segments)
    rows = [
        {"segment": s, "rule_text": _rule_text(s.rule, request.tenant.currency), **counts[s.pk]}
        for s in segments
    ]
    return render(
        request,
        "collections/config/segment_list.html",
        {
            "rows": rows,
            "customer_total": Customer.objects.count(),
            "can_edit": request.membership.has_role("admin"),
        },
    )


def _segment_form(request, segment: Segment | None):
    """Create (`segment` None) or edit a segment with `segment_save`; the form shows how many
    customers its rule matches."""
    if request.method == "GET":
        rule = segment.rule if segment else {"kind": "tag", "value": ""}
        values = {
            "name": segment.name if segment else "",
            "priority": str(segment.priority if segment else 100),
            "ladder": str(segment.ladder_id if segment else ""),
            "rule": rule,
        }
        errors: dict[str, list[str]] = {}
        count_errors: list[str] = []
    else:
        post = request.POST
        values = {
            "name": post.get("name", "").strip(),
            "priority": post.get("priority", "").strip(),
            "ladder": post.get("ladder", ""),
            "rule": _rule_from(post),
        }
        form = SegmentForm(values, tenant=request.tenant)
        if form.is_valid():
            try:
                saved = segment_save(
                    tenant=request.tenant, segment=segment, rule=values["rule"], **form.cleaned_data
                )
            except SegmentError as exc:
                errors = exc.errors
            else:
                messages.success(request, _("Segment “%(name)s” saved.") % {"name": saved.name})
                return redirect("config_segments")
        else:
            errors = {field: list(refused) for field, refused in form.errors.items()}
            if rule_errors := _rule_checked(values["rule"])[1]:
                errors["rule"] = rule_errors
        count_errors = errors.get("rule", [])
    rule = values["rule"]
    clean, _refused = _rule_checked(rule)
    context = {
        "segment": segment,
        "values": values,
        "rule_kind": rule.get("kind", ""),
        "rule_value": "" if rule.get("value") is None else str(rule.get("value")),
        "errors": errors,
        "ladders": Ladder.objects.all(),
        "rule_kinds": list(RULE_KINDS.items()),
        "behaviours": Behaviour.choices,
        "count": (
            None
            if clean is None
            else segment_rule_count(tenant=request.tenant, rule=clean, segment=segment)
        ),
        "count_errors": count_errors,
        "can_edit": request.membership.has_role("admin"),
        "rule_text": "" if clean is None else _rule_text(rule, request.tenant.currency),
    }
    return render(request, "collections/config/segment_form.html", context)


@require_http_methods(["GET", "POST"])
@tenant_required()
@writes_need_admin
def segment_new(request):
    return _segment_form(request, None)


@require_http_methods(["GET", "POST"])
@tenant_required()
@writes_need_admin
def segment_detail(request, pk: int):
    return _segment_form(request, get_object_or_404(Segment, pk=pk))


@require_GET
@tenant_required()
def segment_count(request):
    """HTMX partial: how many customers the rule being edited matches, or why it is invalid."""
    rule = _rule_from(request.GET)
    segment_pk = request.GET.get("segment", "")
    segment = get_object_or_404(Segment, pk=segment_pk) if segment_pk.isdigit() else None
    clean, errors = _rule_checked(rule)
    context = {
        "count": (
            None
            if clean is None
            else segment_rule_count(tenant=request.tenant, rule=clean, segment=segment)
        ),
        "count_errors": errors,
        "rule_text": "" if errors else _rule_text(rule, request.tenant.currency),
    }
    return render(request, "collections/config/_segment_count.html", context)
