"""The due tick (beat, every minute) is what brings a killed worker's sends back quickly: it
queues the messages whose time has come or whose task is lost, and leaves alone the ones still
in flight. Eager Celery, the task's publication observed."""

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from messaging.models import Message, MessagePurpose, MessageStatus
from messaging.tasks import SEND_HOLD_MAX_SECONDS, _send_later, messages_send_due, send_messages
from messaging.upkeep import STALE_AFTER_SECONDS
from tests.tenants.factories import TenantFactory

pytestmark = pytest.mark.django_db


def queued(tenant, **fields) -> Message:
    with scopes_disabled():
        return Message.objects.create(
            tenant=tenant,
            channel="sms",
            recipient="+5511999990000",
            purpose=MessagePurpose.MANUAL,
            body="Lembrete",
            **fields,
        )


@pytest.fixture
def published(django_capture_on_commit_callbacks):
    """The message ids of every send batch queued, in order (nothing runs)."""
    batches: list[list[int]] = []

    def record(*args, **kwargs):
        batches.append(kwargs["kwargs"]["message_ids"])

    with mock.patch.object(send_messages, "apply_async", side_effect=record):
        yield batches


def tick(django_capture_on_commit_callbacks) -> int:
    with django_capture_on_commit_callbacks(execute=True):
        return messages_send_due()


def test_a_lost_task_is_queued_again_after_the_stale_delay_then_held_by_a_lease(
    frozen_clock, published, django_capture_on_commit_callbacks
):
    tenant = TenantFactory()
    message = queued(tenant)
    # Just queued: its task is on its way (the broker's queue, a worker's batch).
    assert tick(django_capture_on_commit_callbacks) == 0
    frozen_clock.shift(STALE_AFTER_SECONDS + 1)
    assert tick(django_capture_on_commit_callbacks) == 1
    assert published == [[message.pk]]
    # Queued again with a lease: the next ticks leave it to that task while it may run…
    for _ in range(3):
        frozen_clock.shift(STALE_AFTER_SECONDS / 4)
        assert tick(django_capture_on_commit_callbacks) == 0
    # …and take it again only once the lease ran out (that task was lost too).
    frozen_clock.shift(STALE_AFTER_SECONDS / 4 + 1)
    assert tick(django_capture_on_commit_callbacks) == 1
    assert published == [[message.pk], [message.pk]]


def test_a_send_in_flight_at_the_provider_is_never_queued_again(
    frozen_clock, published, django_capture_on_commit_callbacks
):
    tenant = TenantFactory()
    queued(tenant, status=MessageStatus.SENDING, sending_at=timezone.now())
    queued(tenant, status=MessageStatus.SENT)
    frozen_clock.shift(3600)
    assert tick(django_capture_on_commit_callbacks) == 0
    assert published == []


def test_a_wait_longer_than_the_hold_stays_in_the_database_until_due(
    frozen_clock, published, django_capture_on_commit_callbacks
):
    tenant = TenantFactory()
    soon, later = queued(tenant), queued(tenant)
    now = timezone.now()
    with scope(tenant=tenant):  # as in the send task
        _send_later(tenant=tenant, message_ids=[soon.pk], at=now + timedelta(seconds=5))
        _send_later(
            tenant=tenant,
            message_ids=[later.pk],
            at=now + timedelta(seconds=SEND_HOLD_MAX_SECONDS + 1),
        )
    # A short wait (a rate limit's next token) is also queued at once, with its ETA.
    assert published == [[soon.pk]]
    with scopes_disabled():
        later.refresh_from_db()
    assert later.next_attempt_at == now + timedelta(seconds=SEND_HOLD_MAX_SECONDS + 1)
    published.clear()
    frozen_clock.shift(SEND_HOLD_MAX_SECONDS + 2)
    # Both due now: the later one is queued by the tick; the short one again too, in case the
    # worker holding its ETA died (the claim makes a second task harmless).
    assert tick(django_capture_on_commit_callbacks) == 2
    assert sorted(published[0]) == sorted([soon.pk, later.pk])
