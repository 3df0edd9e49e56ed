import random
from collections import defaultdict
from datetime import datetime, timedelta

from celery import current_app, shared_task
from django.utils import timezone
from django_scopes import scope

from messaging.enqueue import (
    FAN_OUT_TASK,
    SEND_MESSAGE_TASK,
    SEND_MESSAGES_TASK,
    UPKEEP_TASK,
    messages_fan_out_batches,
    messages_schedule,
)
from messaging.models import Message, MessageStatus
from messaging.sending import message_fail, message_send, messages_send
from messaging.upkeep import (
    messages_reconcile_stuck,
    messages_requeue_stale,
    messages_upkeep_tenants,
)
from tenants.models import Tenant
from tenants.selectors import tenant_next_send_time
from tenants.tasks import TenantTask

# A message is tried at most MAX_ATTEMPTS times for transient errors: the first attempt and
# MAX_RETRIES retries, counted by its claims (`Message.attempts`), whichever task (a batch's or
# a single message's) made them. Then it ends failed.
MAX_RETRIES = 6
MAX_ATTEMPTS = MAX_RETRIES + 1

# Time limits. The upkeep takes a message left in `sending` for STUCK_AFTER_SECONDS
# (messaging.upkeep) for stuck and fails it as "check and resend by hand"; a send task still
# running then could record a send the upkeep has just failed. So a send task's hard limit
# (its worker process is killed) is well under STUCK_AFTER_SECONDS, and its soft limit
# (SoftTimeLimitExceeded in the task; the claimed messages stay `sending` for the upkeep) comes
# first: soft limit < time limit < STUCK_AFTER_SECONDS. A batch of SEND_BATCH messages makes
# ceil(SEND_BATCH / MESSAGING_SEND_CONCURRENCY) rounds of provider calls (4 by default), each
# at most a connect and a read of PROVIDER_TIMEOUT_SECONDS (15 s): about two minutes in the
# worst case, plus rendering (each render is held to template_budget.MAX_SECONDS) and a few
# queries, well inside the soft limit. tests/config/test_task_time_limits.py checks this.
SEND_SOFT_TIME_LIMIT = 300
SEND_TIME_LIMIT = 360
# One message: one provider call, a few renders.
SEND_ONE_SOFT_TIME_LIMIT = 120
SEND_ONE_TIME_LIMIT = 180
# The fan-out reads up to FAN_OUT_CHUNK ids in one query and queues their batches.
FAN_OUT_SOFT_TIME_LIMIT = 120
FAN_OUT_TIME_LIMIT = 180
# The upkeep may look up to 5,000 stuck messages per tenant up at their providers; one cut
# short is resumed by the next tick (each change is a conditional transition).
UPKEEP_SOFT_TIME_LIMIT = 540
UPKEEP_TIME_LIMIT = 600


def _backoff(retries: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter for transient provider errors, never shorter than the
    provider's Retry-After."""
    return max(min(3600, 30 * 2**retries) * random.uniform(0.8, 1.2), retry_after or 0)


@shared_task(
    name=SEND_MESSAGE_TASK,
    base=TenantTask,
    bind=True,
    max_retries=MAX_RETRIES,
    acks_late=True,
    soft_time_limit=SEND_ONE_SOFT_TIME_LIMIT,
    time_limit=SEND_ONE_TIME_LIMIT,
)
def send_message(self, *, message_id: int, tenant):
    outcome = message_send(tenant=tenant, message_id=message_id)
    if outcome.defer_until is not None:
        messages_schedule(tenant=tenant, message_ids=[message_id], at=outcome.defer_until)
        send_message.apply_async(
            kwargs={"message_id": message_id, "tenant_id": tenant.pk}, eta=outcome.defer_until
        )
    elif outcome.retry:
        message = Message.objects.get(pk=message_id)
        if message.attempts >= MAX_ATTEMPTS:
            # Out of retries: end it as failed, with the provider's last error as the reason.
            message_fail(
                tenant=tenant,
                message=message,
                reason=f"Gave up after {MAX_RETRIES} retries: {message.error}",
            )
            return MessageStatus.FAILED
        countdown = _backoff(max(message.attempts - 1, 0), outcome.retry_after)
        messages_schedule(
            tenant=tenant,
            message_ids=[message_id],
            at=timezone.now() + timedelta(seconds=countdown),
        )
        raise self.retry(countdown=countdown)
    return outcome.status


@shared_task(
    name=SEND_MESSAGES_TASK,
    base=TenantTask,
    acks_late=True,
    soft_time_limit=SEND_SOFT_TIME_LIMIT,
    time_limit=SEND_TIME_LIMIT,
)
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
            # The first attempt was this batch's; the retries continue in `send_message`,
            # which counts the attempts the message made (MAX_ATTEMPTS in all).
            countdown = _backoff(0, outcome.retry_after)
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


@shared_task(
    name=FAN_OUT_TASK, soft_time_limit=FAN_OUT_SOFT_TIME_LIMIT, time_limit=FAN_OUT_TIME_LIMIT
)
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


@shared_task(name=UPKEEP_TASK, soft_time_limit=UPKEEP_SOFT_TIME_LIMIT, time_limit=UPKEEP_TIME_LIMIT)
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
