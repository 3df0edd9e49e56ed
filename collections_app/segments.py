"""Payment-behaviour classes and segment rules.

A customer's class comes from their paid invoices; their segment is the first rule (by
priority) that matches, else none (the default ladder). Both are recomputed at each daily
evaluation with a couple of aggregate queries per tenant, and every change is written to the
customer's timeline with the rule that caused it."""

from decimal import Decimal

from django.db.models import Avg, Count, F, Q, Sum
from django.utils import timezone

from tenants.models import Tenant

from .models import (
    Behaviour,
    Customer,
    Interaction,
    InteractionKind,
    Invoice,
    InvoiceStatus,
    Segment,
)
from .money import format_money

# A customer needs this many paid invoices before their behaviour says anything.
MIN_HISTORY = 2
ON_TIME_MAX_LATE_SHARE = 0.1
CHRONIC_MIN_LATE_SHARE = 0.5
CHRONIC_MIN_AVG_DAYS_LATE = 15


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


def open_amounts(*, customer_ids=None) -> dict[int, Decimal]:
    qs = Invoice.objects.filter(status=InvoiceStatus.OPEN)
    if customer_ids is not None:
        qs = qs.filter(customer_id__in=customer_ids)
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
    """Put each customer (not placed by hand) in the first segment whose rule matches, else in
    none (the default ladder). Returns how many moved; each move is logged."""
    if classify:
        customers_classify(tenant=tenant, customer_ids=None)
    segments = list(Segment.objects.order_by("priority", "id"))
    rule_segments = [s for s in segments if s.rule.get("kind") != "manual"]
    amounts = (
        open_amounts()
        if any(s.rule.get("kind") == "amount_at_least" for s in rule_segments)
        else {}
    )
    now, moved, log = timezone.now(), [], []
    for customer in Customer.objects.filter(segment_manual=False).only(
        "id", "segment_id", "segment_reason", "behaviour", "tags"
    ):
        match = next(
            (
                s
                for s in rule_segments
                if rule_matches(s.rule, customer, amounts.get(customer.pk, Decimal("0")))
            ),
            None,
        )
        segment_id = match.pk if match else None
        reason = f"{match.name}: {rule_describe(match.rule, tenant.locale)}" if match else ""
        if segment_id == customer.segment_id and reason == customer.segment_reason:
            continue
        customer.segment_id, customer.segment_reason = segment_id, reason
        moved.append(customer)
        log.append(
            Interaction(
                tenant=tenant,
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
    return len(moved)
