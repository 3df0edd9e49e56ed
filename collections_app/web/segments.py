"""The segment pages: segments in priority order with the customers their rules match, and
the segment form with a live count of its rule. Pages read with the viewer role; every
write needs admin."""

import hashlib
from decimal import Decimal

from django.contrib import messages
from django.core.cache import cache
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods
from rest_framework import serializers

from collections_app.api.ladders import SegmentSerializer
from collections_app.invoices.segments import open_amounts, rule_matches
from collections_app.models import (
    Behaviour,
    Customer,
    Ladder,
    Segment,
)
from collections_app.money import format_money
from collections_app.stats.rollups import data_version
from collections_app.web.form_errors import field_errors, messages_of
from collections_app.web.permissions import writes_need_admin
from tenants.decorators import tenant_required

RULE_KINDS = {
    "amount_at_least": gettext_lazy("Open amount at least"),
    "tag": gettext_lazy("Customer tag"),
    "behaviour": gettext_lazy("Payment behaviour"),
    "manual": gettext_lazy("Placed by hand"),
}  # the API's SEGMENT_RULE_KINDS, each labelled


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


SEGMENT_COUNTS_CACHE_SECONDS = 300


def _segment_counts(segments: list[Segment]) -> dict[int, dict[str, int]]:
    """`_segment_counts_now`, kept 5 minutes in the cache: it reads every customer. The key
    carries the segments' rules and priorities and a fingerprint of the customers and their
    open amounts, so an edited segment, customer or payment shows at once."""
    if not segments:
        return {}
    tenant_id = segments[0].tenant_id
    signature = hashlib.sha256(
        repr(
            (
                sorted((s.pk, s.priority, repr(s.rule)) for s in segments),
                data_version(tenant_id=tenant_id),
            )
        ).encode()
    ).hexdigest()[:16]
    key = f"regua:segment-counts:{tenant_id}:{signature}"
    counts = cache.get(key)
    if counts is None:
        counts = _segment_counts_now(segments)
        cache.set(key, counts, SEGMENT_COUNTS_CACHE_SECONDS)
    return counts


def _segment_counts_now(segments: list[Segment]) -> dict[int, dict[str, int]]:
    """Per segment: the customers its rule matches (`matching`, priority aside) and those the
    next evaluation would put in it (`landing`: the first match by priority wins; customers
    placed by hand stay where they are). One pass over the customers, with `rule_matches`."""
    counts = {s.pk: {"matching": 0, "landing": 0} for s in segments}
    ruled = [s for s in segments if s.rule.get("kind") != "manual"]
    manual = {s.pk for s in segments if s.rule.get("kind") == "manual"}
    needs_amounts = any(s.rule.get("kind") == "amount_at_least" for s in ruled)
    amounts = open_amounts() if needs_amounts else {}
    customers = Customer.objects.only("id", "tags", "behaviour", "segment_id", "segment_manual")
    for customer in customers.iterator(chunk_size=5000):
        amount = amounts.get(customer.pk, Decimal("0"))
        matched = [s for s in ruled if rule_matches(s.rule, customer, amount)]
        for segment in matched:
            counts[segment.pk]["matching"] += 1
        if customer.segment_manual:
            if customer.segment_id in counts:
                counts[customer.segment_id]["landing"] += 1
                if customer.segment_id in manual:
                    counts[customer.segment_id]["matching"] += 1
        elif matched:
            counts[matched[0].pk]["landing"] += 1
    return counts


def _rule_count(rule: dict, segment: Segment | None) -> int:
    """How many customers `rule` matches now."""
    if rule.get("kind") == "manual":
        if segment is None:
            return 0
        return Customer.objects.filter(segment=segment, segment_manual=True).count()
    amounts = open_amounts() if rule.get("kind") == "amount_at_least" else {}
    customers = Customer.objects.only("id", "tags", "behaviour")
    return sum(
        1
        for customer in customers.iterator(chunk_size=5000)
        if rule_matches(rule, customer, amounts.get(customer.pk, Decimal("0")))
    )


def _rule_from(params) -> dict:
    kind = params.get("rule_kind", "")
    value = {
        "amount_at_least": params.get("rule_amount", "").strip(),
        "tag": params.get("rule_tag", "").strip(),
        "behaviour": params.get("rule_behaviour", ""),
    }.get(kind)
    return {"kind": kind} if value is None else {"kind": kind, "value": value}


def _rule_error(rule: dict) -> list[str]:
    try:
        SegmentSerializer().validate_rule(rule)
    except serializers.ValidationError as exc:
        return messages_of(exc.detail)
    return []


@require_GET
@tenant_required()
def segment_list(request):
    segments = list(Segment.objects.select_related("ladder").annotate(now_in=Count("customers")))
    counts = _segment_counts(segments)
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
    """Create (`segment` None) or edit a segment, validated by the API's serializer; the form
    shows how many customers its rule matches."""
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
        parsed = SegmentSerializer(segment, data=values)
        if parsed.is_valid():
            saved = parsed.save() if segment else parsed.save(tenant=request.tenant)
            messages.success(request, _("Segment “%(name)s” saved.") % {"name": saved.name})
            return redirect("config_segments")
        errors = field_errors(parsed.errors)
        count_errors = errors.get("rule", [])
    rule = values["rule"]
    rule_valid = not _rule_error(rule)
    context = {
        "segment": segment,
        "values": values,
        "rule_kind": rule.get("kind", ""),
        "rule_value": "" if rule.get("value") is None else str(rule.get("value")),
        "errors": errors,
        "ladders": Ladder.objects.all(),
        "rule_kinds": list(RULE_KINDS.items()),
        "behaviours": Behaviour.choices,
        "count": _rule_count(rule, segment) if rule_valid else None,
        "count_errors": count_errors,
        "can_edit": request.membership.has_role("admin"),
        "rule_text": _rule_text(rule, request.tenant.currency) if rule_valid else "",
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
    errors = _rule_error(rule)
    context = {
        "count": None if errors else _rule_count(rule, segment),
        "count_errors": errors,
        "rule_text": "" if errors else _rule_text(rule, request.tenant.currency),
    }
    return render(request, "collections/config/_segment_count.html", context)
