"""Send rate limits: token buckets per tenant and per provider account, in the process or
shared through Redis; a send over the limit waits instead of going out."""

import os
import time
import uuid
from datetime import UTC, date, datetime
from unittest import mock

import pytest
import redis
from django_scopes import scope, scopes_disabled

from collections_app.engine import ladder_evaluate
from messaging import ratelimit
from messaging.models import Message, MessageStatus
from messaging.tasks import send_messages
from tests.collections_app.factories import InvoiceFactory
from tests.conftest import require_service
from tests.fakes import FakeProvider, twilio_answer
from tests.messaging.factories import ProviderAccountFactory

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_available() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:
        return False


@pytest.fixture(params=["process", "redis"])
def backend(request, settings, monkeypatch):
    if request.param == "redis":
        require_service(redis_available(), f"Redis is not reachable at {REDIS_URL}")
        settings.REDIS_URL = REDIS_URL
    else:
        settings.REDIS_URL = ""
    monkeypatch.setattr(ratelimit, "_script", None)
    return request.param


def test_a_bucket_gives_its_burst_then_asks_to_wait(backend):
    key = f"test:{uuid.uuid4().hex}"
    assert [ratelimit.take(key, rate=2, burst=2) for _ in range(2)] == [0.0, 0.0]
    wait = ratelimit.take(key, rate=2, burst=2)
    assert 0.3 < wait <= 0.5  # half a second per token at 2 per second


def test_tokens_come_back_with_time(backend):
    key = f"test:{uuid.uuid4().hex}"
    assert ratelimit.take(key, rate=10, burst=1) == 0.0
    assert ratelimit.take(key, rate=10, burst=1) > 0
    time.sleep(0.15)  # a token comes back every 0.1 s
    assert ratelimit.take(key, rate=10, burst=1) == 0.0


def test_a_wall_clock_set_back_does_not_empty_the_buckets(backend, frozen_clock):
    """Buckets are timed by a monotonic clock (the process's, or the Redis server's): the
    wall clock going back a year, as the suite's clock does between tests, changes nothing."""
    key = f"test:{uuid.uuid4().hex}"
    assert ratelimit.take(key, rate=10, burst=1) == 0.0
    frozen_clock.move_to(datetime(2025, 1, 1, tzinfo=UTC))
    time.sleep(0.15)
    assert ratelimit.take(key, rate=10, burst=1) == 0.0


def test_the_console_provider_and_a_lifted_limit_never_wait(settings):
    settings.MESSAGING_TENANT_RATE = 0.001
    assert ratelimit.send_wait(tenant_id=1, provider_key="c", provider_kind="console") == 0
    settings.MESSAGING_RATE_LIMITS = False
    settings.MESSAGING_PROVIDER_RATES = {"twilio_sms": 0.001}
    assert ratelimit.send_wait(tenant_id=1, provider_key="t", provider_kind="twilio_sms") == 0


@pytest.mark.django_db
def test_a_batch_over_the_providers_rate_sends_what_fits_and_the_rest_waits(
    tenant_a, settings, backend
):
    settings.MESSAGING_PROVIDER_RATES = {"twilio_sms": 1}  # one per second, burst of one
    with FakeProvider(twilio_answer) as fake:
        settings.TWILIO_API_BASE = fake.url
        # Credentials unique to this run: a bucket of its own.
        ProviderAccountFactory(
            tenant=tenant_a,
            provider="twilio_sms",
            credentials={"account_sid": f"AC{uuid.uuid4().hex}", "auth_token": "t"},
            sender="+5511900000000",
        )
        day = date(2026, 12, 2)
        for n in range(3):
            InvoiceFactory(
                tenant=tenant_a,
                due_date=day,
                customer={
                    "external_id": f"R{n}",
                    "name": f"R{n}",
                    "phone": f"+551198765432{n}",
                    "preferred_channels": ["sms"],
                },
            )
        with scope(tenant=tenant_a):
            ladder_evaluate(tenant=tenant_a, today=day)
            ids = list(Message.objects.order_by("id").values_list("id", flat=True))
        with mock.patch.object(send_messages, "apply_async") as later:
            counts = send_messages.apply(
                kwargs={"message_ids": ids, "tenant_id": tenant_a.pk}
            ).get()
        assert len(fake.requests) == 1
    assert counts == {"sent": 1, "queued": 2}
    [call] = later.call_args_list
    assert call.kwargs["kwargs"]["message_ids"] == ids[1:]
    with scopes_disabled():
        waiting = list(Message.objects.filter(pk__in=ids[1:]))
    assert {m.status for m in waiting} == {MessageStatus.QUEUED}
    assert all(m.next_attempt_at == call.kwargs["eta"] for m in waiting)
