"""Payment-behaviour classes and segment rules.

A customer's class comes from their paid invoices; their segment is the first rule (by
priority) that matches, else none (the default ladder). Classes are kept current by payments;
segments are recomputed at each daily evaluation with a few queries for the whole batch of
tenants, and every change is written to the customer's timeline with the rule that caused it."""

import hashlib
from decimal import Decimal

from django.core.cache import cache
from django.db import transaction
from django.db.models import Avg, Count, F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_app.models import (
    Behaviour,
    Customer,
    Interaction,
    InteractionKind,
    Invoice,
    InvoiceStatus,
    Ladder,
    Segment,
)
from collections_app.money import format_money
from collections_app.stats.rollups import data_version, stats_refresh_customers_many
from tenants.models import Tenant

# A customer needs this many paid invoices before their behaviour says anything.
MIN_HISTORY = 2
ON_TIME_MAX_LATE_SHARE = 0.1
CHRONIC_MIN_LATE_SHARE = 0.5
CHRONIC_MIN_AVG_DAYS_LATE = 15
SEGMENT_RULE_KINDS = ("manual", "tag", "amount_at_least", "behaviour")
SEGMENT_COUNTS_CACHE_SECONDS = 300


class SegmentError(ValueError):
    """A segment refused, with messages per field ("name", "rule", "ladder") fit to show."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


def behaviour_of(*, paid: int, late: int, avg_days_late: float | None) -> str:
    if paid < MIN_HISTORY:
        return Behaviour.NEW
    share = late / paid
    if share <= ON_TIME_MAX_LATE_SHARE:
        return Behaviour.ON_TIME
    if share >= CHRONIC_MIN_LATE_SHARE or (avg_days_late or 0) >= CHRONIC_MIN_AVG_DAYS_LATE:
        return Behaviour.CHRONICALLY_LATE
    return Behaviour.SOMETIMES_LATE


def customers_classify(*, tenant: Tenant | None, customer_ids=None) -> int:
    """Recompute customers' behaviour classes: all of the active scope's, or `customer_ids`.
    A class changes only when an invoice is paid, so payments call this for their customer;
    a full run repairs data written around the services. Returns how many changed."""
    paid = Invoice.objects.filter(status=InvoiceStatus.PAID)
    customers = Customer.objects.all()
    if customer_ids is not None:
        paid = paid.filter(customer_id__in=customer_ids)
        customers = customers.filter(pk__in=customer_ids)
    stats = {
        row["customer_id"]: row
        for row in paid.values("customer_id").annotate(
            paid=Count("id"),
            late=Count("id", filter=Q(days_late__gt=0)),
            avg_late=Avg("days_late"),
        )
    }
    changed = []
    for customer in customers.only("id", "behaviour").iterator(chunk_size=5000):
        row = stats.get(customer.pk)
        new = (
            behaviour_of(paid=row["paid"], late=row["late"], avg_days_late=row["avg_late"])
            if row
            else Behaviour.NEW
        )
        if new != customer.behaviour:
            customer.behaviour = new
            changed.append(customer)
    Customer.objects.bulk_update(changed, ["behaviour"], batch_size=1000)
    return len(changed)


def open_amounts(*, customer_ids=None, tenant_ids=None) -> dict[int, Decimal]:
    """Customer id → open amount (what is still owed on open invoices), for the given
    customers or tenants, else for the active scope."""
    qs = Invoice.objects.filter(status=InvoiceStatus.OPEN)
    if customer_ids is not None:
        qs = qs.filter(customer_id__in=customer_ids)
    if tenant_ids is not None:
        qs = qs.filter(tenant_id__in=tenant_ids)
    return {
        row["customer_id"]: row["open"]
        for row in qs.values("customer_id").annotate(open=Sum(F("amount") - F("amount_paid")))
    }


def rule_matches(rule: dict, customer: Customer, open_amount: Decimal) -> bool:
    kind, value = rule.get("kind"), rule.get("value")
    if kind == "tag":
        return value in (customer.tags or [])
    if kind == "amount_at_least":
        return open_amount >= Decimal(str(value))
    if kind == "behaviour":
        return customer.behaviour == value
    return False  # "manual" segments only hold customers put there by hand


def rule_describe(rule: dict, locale: str) -> str:
    kind, value = rule.get("kind"), rule.get("value")
    if kind == "amount_at_least":
        return f"valor em aberto ≥ {format_money(value, locale=locale)}"
    if kind == "tag":
        return f"etiqueta “{value}”"
    if kind == "behaviour":
        return f"comportamento: {Behaviour(value).label}"
    return "atribuição manual"


def segments_assign(*, tenant: Tenant, classify: bool = True) -> int:
    """Put each of the tenant's customers (not placed by hand) in the first segment whose rule
    matches, else in none (the default ladder). Returns how many moved; each move is logged."""
    if classify:
        customers_classify(tenant=tenant, customer_ids=None)
    return segments_assign_many(tenants=[tenant])


def segments_assign_many(*, tenants: list[Tenant]) -> int:
    """`segments_assign` for several tenants at once (the daily evaluation's batch), with a
    few queries for all of them: their segments, the open amounts if a rule needs them, and
    one pass over the customers of the tenants that have segments."""
    by_id = {t.pk: t for t in tenants}
    rules: dict[int, list[Segment]] = {}
    for segment in Segment.objects.filter(tenant_id__in=by_id).order_by("priority", "id"):
        rules.setdefault(segment.tenant_id, [])
        if segment.rule.get("kind") != "manual":
            rules[segment.tenant_id].append(segment)
    if not rules:
        return 0
    need_amounts = [
        tenant_id
        for tenant_id, segments in rules.items()
        if any(s.rule.get("kind") == "amount_at_least" for s in segments)
    ]
    amounts = open_amounts(tenant_ids=need_amounts) if need_amounts else {}
    now, moved, log = timezone.now(), [], []
    switched: dict[int, list[int]] = {}
    customers = Customer.objects.filter(tenant_id__in=rules, segment_manual=False).only(
        "id", "tenant_id", "segment_id", "segment_reason", "behaviour", "tags"
    )
    for customer in customers.iterator(chunk_size=5000):
        tenant = by_id[customer.tenant_id]
        match = next(
            (
                s
                for s in rules[customer.tenant_id]
                if rule_matches(s.rule, customer, amounts.get(customer.pk, Decimal("0")))
            ),
            None,
        )
        segment_id = match.pk if match else None
        reason = f"{match.name}: {rule_describe(match.rule, tenant.locale)}" if match else ""
        if segment_id == customer.segment_id and reason == customer.segment_reason:
            continue
        if segment_id != customer.segment_id:
            switched.setdefault(customer.tenant_id, []).append(customer.pk)
        customer.segment_id, customer.segment_reason = segment_id, reason
        moved.append(customer)
        log.append(
            Interaction(
                tenant_id=customer.tenant_id,
                customer_id=customer.pk,
                kind=InteractionKind.SEGMENT,
                occurred_at=now,
                summary=f"Segmento: {reason}" if match else "Segmento: régua padrão",
                data={
                    "segment": match.name if match else None,
                    "rule": match.rule if match else None,
                },
            )
        )
    Customer.objects.bulk_update(moved, ["segment", "segment_reason"], batch_size=1000)
    Interaction.objects.bulk_create(log, batch_size=1000)
    stats_refresh_customers_many(customers_by_tenant=switched)
    return len(moved)


# Saving segments and counting their customers: the pages and the API share these. ----------


def segment_rule_clean(rule) -> dict:
    """The rule as it is stored: only what the rules read (anything else is noise, and a NUL
    in it is refused by PostgreSQL's jsonb). Raises SegmentError({"rule": [...]}) for a rule
    of an unknown kind or with a value its kind cannot use."""
    if not isinstance(rule, dict) or rule.get("kind") not in SEGMENT_RULE_KINDS:
        message = _('Give {"kind": one of %s, "value": …}.') % sorted(SEGMENT_RULE_KINDS)
        raise SegmentError({"rule": [message]})
    kind, value = rule["kind"], rule.get("value")
    if kind == "amount_at_least":
        # An amount as invoices have them: not negative, not infinite, at most 12 digits
        # before the decimal point (it is shown as money and compared with amounts).
        try:
            amount = Decimal(str(value))
            if not (amount.is_finite() and 0 <= amount < Decimal("1e12")):
                raise ValueError
        except (ArithmeticError, ValueError) as exc:
            raise SegmentError({"rule": [_("value must be a positive amount.")]}) from exc
    elif kind == "behaviour" and value not in Behaviour.values:
        message = _("value must be one of %s.") % sorted(Behaviour.values)
        raise SegmentError({"rule": [message]})
    elif kind == "tag" and not (isinstance(value, str) and value and "\x00" not in value):
        raise SegmentError({"rule": [_("value must be a tag.")]})
    return {"kind": kind} if kind == "manual" else {"kind": kind, "value": value}


def segment_name_errors(*, tenant: Tenant, name: str, segment: Segment | None = None) -> list[str]:
    """Why `name` cannot be this segment's (another of the tenant's segments has it), or []."""
    others = Segment.objects.filter(tenant=tenant, name=name)
    if segment is not None:
        others = others.exclude(pk=segment.pk)
    return [_("Another segment has this name.")] if others.exists() else []


def segment_save(
    *,
    tenant: Tenant,
    name: str,
    priority: int,
    rule: dict | None,
    ladder: Ladder,
    segment: Segment | None = None,
) -> Segment:
    """Create a segment of the tenant (`segment` None) or change one, its rule stored as
    `segment_rule_clean` gives it (None keeps the rule it has: a new segment's empty rule
    matches no one). Customers move at the next evaluation, not now. Raises SegmentError with
    every field's messages (a name another segment has, a bad rule, a ladder of another
    tenant); nothing is written then."""
    if segment is not None and segment.tenant_id != tenant.pk:
        raise Segment.DoesNotExist
    errors: dict[str, list[str]] = {}
    if name_errors := segment_name_errors(tenant=tenant, name=name, segment=segment):
        errors["name"] = name_errors
    if rule is not None:
        try:
            rule = segment_rule_clean(rule)
        except SegmentError as exc:
            errors.update(exc.errors)
    if ladder.tenant_id != tenant.pk:
        errors["ladder"] = [_("Choose a ladder of this company.")]
    if errors:
        raise SegmentError(errors)
    with transaction.atomic():
        if segment is None:
            segment = Segment(tenant=tenant)
        segment.name, segment.priority, segment.ladder = name, priority, ladder
        if rule is not None:
            segment.rule = rule
        segment.save()
    return segment


def segment_counts(*, tenant: Tenant, segments: list[Segment]) -> dict[int, dict[str, int]]:
    """Per segment: the customers its rule matches (`matching`, priority aside) and those the
    next evaluation would put in it (`landing`: the first match by priority wins; customers
    placed by hand stay where they are). Kept 5 minutes in the cache, as it reads every
    customer; the key carries the segments' rules and priorities and a fingerprint of the
    customers and their open amounts, so an edited segment, customer or payment shows at once."""
    if not segments:
        return {}
    signature = hashlib.sha256(
        repr(
            (
                sorted((s.pk, s.priority, repr(s.rule)) for s in segments),
                data_version(tenant_id=tenant.pk),
            )
        ).encode()
    ).hexdigest()[:16]
    key = f"regua:segment-counts:{tenant.pk}:{signature}"
    counts = cache.get(key)
    if counts is None:
        counts = _segment_counts_now(tenant=tenant, segments=segments)
        cache.set(key, counts, SEGMENT_COUNTS_CACHE_SECONDS)
    return counts


def _segment_counts_now(*, tenant: Tenant, segments: list[Segment]) -> dict[int, dict[str, int]]:
    """`segment_counts` without the cache: one pass over the customers, with `rule_matches`."""
    counts = {s.pk: {"matching": 0, "landing": 0} for s in segments}
    ruled = [s for s in segments if s.rule.get("kind") != "manual"]
    manual = {s.pk for s in segments if s.rule.get("kind") == "manual"}
    needs_amounts = any(s.rule.get("kind") == "amount_at_least" for s in ruled)
    amounts = open_amounts(tenant_ids=[tenant.pk]) if needs_amounts else {}
    customers = Customer.objects.filter(tenant=tenant).only(
        "id", "tags", "behaviour", "segment_id", "segment_manual"
    )
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


def segment_rule_count(*, tenant: Tenant, rule: dict, segment: Segment | None = None) -> int:
    """How many of the tenant's customers `rule` (a clean one) matches now; for a manual rule,
    the customers placed in `segment` by hand."""
    if rule.get("kind") == "manual":
        if segment is None:
            return 0
        return Customer.objects.filter(tenant=tenant, segment=segment, segment_manual=True).count()
    amounts = open_amounts(tenant_ids=[tenant.pk]) if rule.get("kind") == "amount_at_least" else {}
    customers = Customer.objects.filter(tenant=tenant).only("id", "tags", "behaviour")
    return sum(
        1
        for customer in customers.iterator(chunk_size=5000)
        if rule_matches(rule, customer, amounts.get(customer.pk, Decimal("0")))
    )
