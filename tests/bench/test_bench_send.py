"""A tiny smoke run of the send benchmark (the full run is out of CI: see docs/benchmarks.md): real
Celery worker processes on Redis, the twilio SDK against the loopback fake, PostgreSQL."""

import json
import os

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django_scopes import scopes_disabled

from messaging.models import Message, MessageStatus
from tests.conftest import require_service
from tests.workers import REDIS_URL, redis_available

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_bench_send_sends_every_message_through_workers_and_reports(capsys):
    require_service(redis_available(), f"Redis is not reachable at {REDIS_URL}")
    assert os.environ.get("DJANGO_SETTINGS_MODULE")
    # SQLite has one writer: sends in flight together would wait on each other's writes.
    concurrency = "4" if connection.vendor == "postgresql" else "1"
    if connection.vendor != "postgresql":
        with pytest.raises(CommandError, match="database shared by several processes"):
            call_command(
                "bench_send", "--messages", "2", "--concurrency", "4", "--broker", REDIS_URL
            )
    call_command(
        "bench_send",
        *("--messages", "30", "--latency-ms", "5", "--workers", "1", "--concurrency", concurrency),
        *("--broker", REDIS_URL, "--timeout", "120", "--json"),
    )
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["sent"] == 30 and result["failed"] == 0
    assert result["messages_per_second"] > 0 and result["p95_send_ms"] >= 5
    assert result["reference_messages_per_second"] > 0 and result["ratio_to_reference"] > 0
    assert result["retried"] == 0
    with scopes_disabled():
        statuses = set(
            Message.objects.filter(tenant__slug=result["tenant"]).values_list("status", flat=True)
        )
        assert statuses == {MessageStatus.SENT}
