"""Putting sends on the queue: what the domain and the upkeep call to have messages sent.

The send tasks are looked up by their registered names (below; `messaging.tasks` is
registered with them), so the modules that queue sends never import the task module, which
imports the services: services → enqueue never leads back to tasks. `messaging.apps` imports
the task module when Django starts, so every process (a web process too, which does not
discover tasks as a worker does) finds them; an eager test run calls them in place."""

from collections import defaultdict
from datetime import datetime

from celery import Task, current_app
from django.db import transaction
from django_scopes import scopes_disabled

from messaging.models import Message, MessageStatus
from tenants.models import Tenant

SEND_MESSAGE_TASK = "messaging.tasks.send_message"
SEND_MESSAGES_TASK = "messaging.tasks.send_messages"
FAN_OUT_TASK = "messaging.tasks.messages_fan_out"
UPKEEP_TASK = "messaging.tasks.messages_upkeep"
SEND_DUE_TASK = "messaging.tasks.messages_send_due"


def _task(name: str) -> Task:
    return current_app.tasks[name]


SEND_BATCH = 100


def messages_enqueue(*, tenant: Tenant, message_ids: list[int]) -> None:
    """Queue the sends, in batches of SEND_BATCH messages per task, once the surrounding
    transaction commits (a worker must find the rows)."""

    def _enqueue() -> None:
        send_messages = _task(SEND_MESSAGES_TASK)
        for i in range(0, len(message_ids), SEND_BATCH):
            send_messages.apply_async(
                kwargs={"message_ids": message_ids[i : i + SEND_BATCH], "tenant_id": tenant.pk}
            )

    if message_ids:
        transaction.on_commit(_enqueue)


FAN_OUT_CHUNK = 10_000


def messages_enqueue_many(*, message_ids: list[int]) -> None:
    """Queue the sends of many messages, of any tenants, once the surrounding transaction
    commits: a few fan-out tasks, each of which a worker turns into per-tenant batches of
    SEND_BATCH. A day's evaluation of many tenants pays a handful of broker round trips in its
    transaction instead of one per tenant."""

    def _enqueue() -> None:
        messages_fan_out = _task(FAN_OUT_TASK)
        for i in range(0, len(message_ids), FAN_OUT_CHUNK):
            messages_fan_out.apply_async(kwargs={"message_ids": message_ids[i : i + FAN_OUT_CHUNK]})

    if message_ids:
        transaction.on_commit(_enqueue)


def messages_fan_out_batches(*, message_ids: list[int]) -> list[tuple[int, list[int]]]:
    """The (tenant id, message ids) send batches for the given messages still queued, in id
    order, at most SEND_BATCH messages each."""
    by_tenant: dict[int, list[int]] = defaultdict(list)
    with scopes_disabled():
        rows = (
            Message.objects.filter(pk__in=message_ids, status=MessageStatus.QUEUED)
            .order_by("tenant_id", "id")
            .values_list("tenant_id", "id")
        )
        for tenant_id, message_id in rows:
            by_tenant[tenant_id].append(message_id)
    return [
        (tenant_id, ids[i : i + SEND_BATCH])
        for tenant_id, ids in by_tenant.items()
        for i in range(0, len(ids), SEND_BATCH)
    ]


def messages_schedule(*, tenant: Tenant, message_ids: list[int], at: datetime) -> int:
    """Record when these queued messages are next due to be tried: the due tick queues them
    then (or, if their task was queued for then, takes it for lost only later). Returns how
    many changed."""
    return Message.objects.filter(pk__in=message_ids, status=MessageStatus.QUEUED).update(
        next_attempt_at=at
    )
