import random
from collections import defaultdict
from datetime import datetime, timedelta

from celery import current_app, shared_task
from django.utils import timezone
from django_scopes import scope

from messaging.models import Message, MessageStatus
from messaging.services import (
    message_fail,
    message_send,
    messages_fan_out_batches,
    messages_reconcile_stuck,
    messages_requeue_stale,
    messages_schedule,
    messages_send,
    messages_upkeep_tenants,
)
from tenants.models import Tenant
from tenants.selectors import tenant_next_send_time
from tenants.tasks import TenantTask

MAX_RETRIES = 6


def _backoff(retries: int) -> float:
    """Exponential backoff with jitter for transient provider errors."""
    return min(3600, 30 * 2**retries) * random.uniform(0.8, 1.2)


@shared_task(base=TenantTask, bind=True, max_retries=MAX_RETRIES, acks_late=True)
def send_message(self, *, message_id: int, tenant):
    outcome = message_send(tenant=tenant, message_id=message_id)
    if outcome.defer_until is not None:
        messages_schedule(tenant=tenant, message_ids=[message_id], at=outcome.defer_until)
        send_message.apply_async(
            kwargs={"message_id": message_id, "tenant_id": tenant.pk}, eta=outcome.defer_until
        )
    elif outcome.retry:
        if self.request.retries >= self.max_retries:
            # Out of retries: end it as failed, with the provider's last error as the reason.
            message = Message.objects.get(pk=message_id)
            message_fail(
                tenant=tenant,
                message=message,
                reason=f"Gave up after {self.max_retries} retries: {message.error}",
            )
            return MessageStatus.FAILED
        countdown = _backoff(self.request.retries)
        messages_schedule(
            tenant=tenant,
            message_ids=[message_id],
            at=timezone.now() + timedelta(seconds=countdown),
        )
        raise self.retry(countdown=countdown)
    return outcome.status


@shared_task(base=TenantTask, acks_late=True)
def send_messages(*, message_ids: list[int], tenant) -> dict:
    """Send a batch of one tenant's messages (the daily evaluation queues them this way).
    Outside the send window the whole batch waits, as one task, for the window to open. A
    message that must retry (transient error) continues on its own."""
    opens_at = tenant_next_send_time(tenant=tenant)
    if opens_at is not None:
        messages_schedule(tenant=tenant, message_ids=message_ids, at=opens_at)
        send_messages.apply_async(
            kwargs={"message_ids": message_ids, "tenant_id": tenant.pk}, eta=opens_at
        )
        return {"deferred": len(message_ids)}
    outcomes = messages_send(tenant=tenant, message_ids=message_ids)
    counts: dict[str, int] = {}
    waiting: dict[datetime, list[int]] = defaultdict(list)
    for message_id, outcome in outcomes.items():
        if outcome.defer_until is not None:
            # Outside the window, or over a rate limit: these wait, one task per second.
            at = outcome.defer_until
            if at.microsecond:
                at = at.replace(microsecond=0) + timedelta(seconds=1)
            waiting[at].append(message_id)
        elif outcome.retry:
            countdown = _backoff(0)
            messages_schedule(
                tenant=tenant,
                message_ids=[message_id],
                at=timezone.now() + timedelta(seconds=countdown),
            )
            send_message.apply_async(
                kwargs={"message_id": message_id, "tenant_id": tenant.pk}, countdown=countdown
            )
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    for at, ids in waiting.items():
        messages_schedule(tenant=tenant, message_ids=ids, at=at)
        send_messages.apply_async(kwargs={"message_ids": ids, "tenant_id": tenant.pk}, eta=at)
    return counts


@shared_task
def messages_fan_out(*, message_ids: list[int]) -> int:
    """Turn a large set of queued messages, of any tenants, into per-tenant send batches.
    Returns how many batches were queued."""
    batches = messages_fan_out_batches(message_ids=message_ids)
    with current_app.producer_or_acquire() as producer:
        for tenant_id, ids in batches:
            send_messages.apply_async(
                kwargs={"message_ids": ids, "tenant_id": tenant_id}, producer=producer
            )
    return len(batches)


@shared_task
def messages_upkeep() -> dict:
    """Periodic (beat's ladders tick queues it): for the tenants that have any, queue again
    the messages whose task was lost (`messages_requeue_stale`) and settle the sends whose
    worker died (`messages_reconcile_stuck`). Two queries find those tenants among all."""
    tenant_ids = list(Tenant.objects.values_list("id", flat=True))
    stale, stuck = messages_upkeep_tenants(tenant_ids=tenant_ids)
    done = {"requeued": 0, "reconciled": 0}
    for tenant in Tenant.objects.filter(pk__in=stale | stuck).order_by("pk"):
        with scope(tenant=tenant):
            if tenant.pk in stale:
                done["requeued"] += messages_requeue_stale(tenant=tenant)
            if tenant.pk in stuck:
                done["reconciled"] += messages_reconcile_stuck(tenant=tenant)
    return done
