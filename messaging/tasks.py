import math
import random
from collections import defaultdict
from datetime import datetime, timedelta

from celery import current_app, shared_task
from django.conf import settings
from django.utils import timezone
from django_scopes import scope

from messaging.enqueue import (
    FAN_OUT_TASK,
    SEND_BATCH,
    SEND_DUE_TASK,
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

# Time limits, derived from what a send can take. A batch of SEND_BATCH messages makes
# ceil(SEND_BATCH / MESSAGING_SEND_CONCURRENCY) rounds of provider calls (4 by default), each at
# most a connect and a read of PROVIDER_TIMEOUT_SECONDS (15 s): 120 s in the worst case. Add
# SEND_BATCH_OVERHEAD_SECONDS (30 s: rendering, each render held to template_budget.MAX_SECONDS,
# and a few queries) for the soft limit (SoftTimeLimitExceeded in the task; the claimed
# messages stay `sending` for the upkeep), as much again for the hard limit (the worker process
# is killed). The upkeep takes a message left in `sending` for STUCK_AFTER_SECONDS
# (messaging.upkeep, derived the same way: the hard limit plus the overhead once more, for the
# workers' clocks) for stuck, so no live task can still record a send the upkeep settles:
# soft limit < time limit < STUCK_AFTER_SECONDS. tests/config/test_task_time_limits.py checks
# this, and the broker's visibility timeout (config/settings, Celery) is set above the time
# limit plus SEND_HOLD_MAX_SECONDS.
_ROUNDS = math.ceil(SEND_BATCH / settings.MESSAGING_SEND_CONCURRENCY)
_CALL = 2 * settings.PROVIDER_TIMEOUT_SECONDS
_OVERHEAD = settings.SEND_BATCH_OVERHEAD_SECONDS
SEND_SOFT_TIME_LIMIT = math.ceil(_ROUNDS * _CALL) + _OVERHEAD
SEND_TIME_LIMIT = SEND_SOFT_TIME_LIMIT + _OVERHEAD
# One message: one provider call, a few renders.
SEND_ONE_SOFT_TIME_LIMIT = math.ceil(_CALL) + _OVERHEAD
SEND_ONE_TIME_LIMIT = SEND_ONE_SOFT_TIME_LIMIT + _OVERHEAD
# The fan-out reads up to FAN_OUT_CHUNK ids in one query and queues their batches.
FAN_OUT_SOFT_TIME_LIMIT = 120
FAN_OUT_TIME_LIMIT = 180
# The upkeep may look up to 5,000 stuck messages per tenant up at their providers; one cut
# short is resumed by the next tick (each change is a conditional transition).
UPKEEP_SOFT_TIME_LIMIT = 540
UPKEEP_TIME_LIMIT = 600
# The due tick reads up to 5,000 ids per tenant with work and queues their batches.
DUE_SOFT_TIME_LIMIT = 50
DUE_TIME_LIMIT = 55

# A send that must wait (rate limit, send window, retry backoff) waits in the database
# (`next_attempt_at`), and the due tick (`messages_send_due`, every minute) queues it when it is
# due. Only a short wait — a rate limit's next token — is also queued at once as a task with an
# ETA, which a worker holds until then: a held task is invisible to the others, and one held
# past the broker's visibility timeout would be delivered to a second worker while the first
# still holds it. If the worker holding it dies, the due tick queues the message anyway.
SEND_HOLD_MAX_SECONDS = 60


def _backoff(retries: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter for transient provider errors, never shorter than the
    provider's Retry-After."""
    backoff = min(3600, settings.SEND_RETRY_BASE_SECONDS * 2**retries) * random.uniform(0.8, 1.2)
    return max(backoff, retry_after or 0)


def _send_later(*, tenant: Tenant, message_ids: list[int], at: datetime) -> None:
    """Record when these queued messages are due; queue their task now (with an ETA) only if
    that is soon, else the due tick queues them then."""
    messages_schedule(tenant=tenant, message_ids=message_ids, at=at)
    if (at - timezone.now()).total_seconds() <= SEND_HOLD_MAX_SECONDS:
        send_messages.apply_async(
            kwargs={"message_ids": message_ids, "tenant_id": tenant.pk}, eta=at
        )


def _retry_later(*, tenant: Tenant, retry_after: dict[int, float | None]) -> int:
    """Transient provider errors (message id → the provider's Retry-After, if it gave one):
    each message is tried again after a backoff that grows with its attempts (kept on the
    message, so it survives workers and the due tick) and is never shorter than Retry-After,
    or ends failed after MAX_ATTEMPTS attempts. Returns how many gave up."""
    gave_up = 0
    for message in Message.objects.filter(pk__in=list(retry_after), status=MessageStatus.QUEUED):
        if message.attempts >= MAX_ATTEMPTS:
            # Out of retries: end it as failed, with the provider's last error as the reason.
            gave_up += message_fail(
                tenant=tenant,
                message=message,
                reason=f"Gave up after {MAX_RETRIES} retries: {message.error}",
            )
            continue
        wait = _backoff(max(message.attempts - 1, 0), retry_after[message.pk])
        at = timezone.now() + timedelta(seconds=wait)
        Message.objects.filter(pk=message.pk, status=MessageStatus.QUEUED).update(
            retry_not_before=at
        )
        _send_later(tenant=tenant, message_ids=[message.pk], at=at)
    return gave_up


@shared_task(
    name=SEND_MESSAGE_TASK,
    base=TenantTask,
    acks_late=True,
    soft_time_limit=SEND_ONE_SOFT_TIME_LIMIT,
    time_limit=SEND_ONE_TIME_LIMIT,
)
def send_message(*, message_id: int, tenant):
    outcome = message_send(tenant=tenant, message_id=message_id)
    if outcome.defer_until is not None:
        _send_later(tenant=tenant, message_ids=[message_id], at=outcome.defer_until)
    elif outcome.retry:
        if _retry_later(tenant=tenant, retry_after={message_id: outcome.retry_after}):
            return MessageStatus.FAILED
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
    Outside the send window the whole batch waits in the database for the window to open (the
    due tick queues it then). A message that must retry (transient error) waits its backoff."""
    opens_at = tenant_next_send_time(tenant=tenant)
    if opens_at is not None:
        _send_later(tenant=tenant, message_ids=message_ids, at=opens_at)
        return {"deferred": len(message_ids)}
    outcomes = messages_send(tenant=tenant, message_ids=message_ids)
    counts: dict[str, int] = {}
    waiting: dict[datetime, list[int]] = defaultdict(list)
    retry: dict[int, float | None] = {}
    for message_id, outcome in outcomes.items():
        if outcome.defer_until is not None:
            # Outside the window, or over a rate limit: these wait, one task per second.
            at = outcome.defer_until
            if at.microsecond:
                at = at.replace(microsecond=0) + timedelta(seconds=1)
            waiting[at].append(message_id)
        elif outcome.retry:
            retry[message_id] = outcome.retry_after
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    if retry:
        _retry_later(tenant=tenant, retry_after=retry)
    for at, ids in waiting.items():
        _send_later(tenant=tenant, message_ids=ids, at=at)
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
    """Periodic (beat, every minute; the ladders tick queues it too): for the tenants that
    have any, queue again the messages whose task was lost (`messages_requeue_stale`) and
    settle the sends whose worker died (`messages_reconcile_stuck`). Two queries find those
    tenants among all."""
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


@shared_task(name=SEND_DUE_TASK, soft_time_limit=DUE_SOFT_TIME_LIMIT, time_limit=DUE_TIME_LIMIT)
def messages_send_due() -> int:
    """Beat's due tick (every minute): queue the sends now due — a send window that opened, a
    retry's backoff over — and those whose task was lost (a worker killed with its batch, a
    broker restart). Sending claims each message first, so a task queued twice sends once.
    Returns how many messages were queued."""
    tenant_ids = list(Tenant.objects.values_list("id", flat=True))
    stale, _stuck = messages_upkeep_tenants(tenant_ids=tenant_ids, stuck=False)
    queued = 0
    for tenant in Tenant.objects.filter(pk__in=stale).order_by("pk"):
        with scope(tenant=tenant):
            queued += messages_requeue_stale(tenant=tenant)
    return queued
