"""The fault suite: never twice, never wrong. Real Celery workers on Redis send a tenant's SMS
through the real `twilio` SDK to a loopback fake that keeps its own record of every call
(tests/faults/fake_twilio.py), while the provider misbehaves, a worker is SIGKILLed mid-batch
(another finishing, every batch queued twice as a re-run racing the first), the broker is
restarted empty, or the database drops the worker's connections. From the fake's record, not
Régua's: no message accepted twice, none left unfinished, no final status the record
contradicts. Each scenario runs once (`outcome`) and prints its figures, among them the time
from the fault's end to every message final (`pytest -s` shows them; the README's
"Reliability" quotes them)."""

import time

import pytest
from django.db import connection

from tests.faults.harness import DELIVERED, NUMBER_PREFIX, Outcome, run_scenario

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

_outcomes: dict[str, Outcome] = {}


def index(to: str) -> int:
    return int(to[len(NUMBER_PREFIX) :])


# Provider faults, by the message's index: refused calls (a 5xx storm, 429), slowness, and the
# ambiguous ones (Twilio took the message but the client never heard so).
PROFILES = ["ok", "slow", "storm", "throttle", "timeout_after_accept", "drop_after_accept"]
FAULT_CALLS = {"storm": 2, "throttle": 1, "timeout_after_accept": 1, "drop_after_accept": 1}


def profile(to: str) -> str:
    return PROFILES[index(to) % len(PROFILES)]


def provider_fault(to: str, n: int) -> str:
    kind = profile(to)
    if kind in FAULT_CALLS:
        return kind if n < FAULT_CALLS[kind] else "ok"
    return kind


def _provider_faults(s):
    s.start_worker("a")
    s.fault_ended = time.monotonic()  # the faults last the whole run; timed from its start


def _sigkill(s):
    """A worker is SIGKILLed once the provider has taken 30 of its messages, with its batches
    mid-flight (calls made, results not recorded); a second worker, started then, finishes."""
    killed = s.start_worker("killed")
    s.wait_accepted(30)
    killed.kill()
    s.fault_ended = time.monotonic()
    s.notes.append(f"SIGKILL after {s.fake.accepted_count()} accepted")
    s.start_worker("survivor")


def _broker_restart(s):
    """The broker (a redis-server of the test's own, without persistence) is killed while
    the worker sends, and started again empty 5 s later: every task queued is gone."""
    s.start_worker("a")
    s.wait_accepted(20)
    s.redis.kill()
    time.sleep(5)
    s.redis.start()
    s.fault_ended = time.monotonic()
    s.notes.append(f"broker restarted empty after {s.fake.accepted_count()} accepted")


def _db_terminated(s):
    """The database ends every connection of the worker's (pg_terminate_backend) while its
    batch waits on the provider: the results cannot be recorded on that connection."""
    s.start_worker("a")
    s.wait_accepted(20)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        [(terminated,)] = cursor.fetchall()
    s.fault_ended = time.monotonic()
    s.notes.append(f"{terminated} connections terminated after {s.fake.accepted_count()} accepted")


SCENARIOS = {
    # A Retry-After well beyond what the retry's own backoff and a busy machine make it wait.
    "provider": dict(
        fault=_provider_faults, fake_fault=provider_fault, latency=0.3, batch=50, retry_after=12
    ),
    "sigkill": dict(fault=_sigkill, latency=0.5, batch=20, twice=True),
    "broker": dict(fault=_broker_restart, latency=0.3, batch=10, private_broker=True),
    "database": dict(fault=_db_terminated, latency=0.5, batch=20),
}


@pytest.fixture
def outcome(request, tmp_path_factory):
    """The scenario's outcome, run once for all the tests that read it."""

    def get(name: str) -> Outcome:
        if name not in _outcomes:
            _outcomes[name] = run_scenario(
                name, tmp_path=tmp_path_factory.mktemp(f"fault-{name}"), **SCENARIOS[name]
            )
        return _outcomes[name]

    return get


def describe(messages) -> str:
    return "; ".join(
        f"{m.to} {m.status} accepted {m.accepted}x {m.error[:80]}" for m in messages[:5]
    )


def assert_sent_once_each(result: Outcome, messages) -> None:
    assert messages
    assert not result.doubles(messages), describe(result.doubles(messages))
    assert not result.lost(messages), describe(result.lost(messages))
    wrong = [m for m in messages if m.status not in DELIVERED or m.accepted != 1]
    assert not wrong, describe(wrong)


# --- Provider faults ------------------------------------------------------------------------


def test_refusals_storms_and_a_slow_provider_send_each_message_once(outcome):
    result = outcome("provider")
    calm = [m for m in result.messages if profile(m.to) in ("ok", "slow", "storm", "throttle")]
    assert_sent_once_each(result, calm)
    # The storm's and the 429's refused calls were tried again, and only those.
    posts = result.fake.posts_by_to()
    for m in calm:
        expected = 1 + FAULT_CALLS.get(profile(m.to), 0)
        assert len(posts[m.to]) == expected, (m.to, [c.fault for c in posts[m.to]])
    assert result.recovery_seconds is not None


def test_a_429_is_tried_again_no_sooner_than_its_retry_after(outcome):
    result = outcome("provider")
    posts = result.fake.posts_by_to()
    waits = [
        posts[m.to][1].at - posts[m.to][0].at
        for m in result.messages
        if profile(m.to) == "throttle"
    ]
    assert waits and min(waits) >= result.fake.retry_after - 0.1, sorted(waits)[:5]


def test_a_timeout_or_a_reset_after_twilio_took_the_message_never_sends_it_twice(outcome):
    result = outcome("provider")
    ambiguous = [
        m for m in result.messages if profile(m.to) in ("timeout_after_accept", "drop_after_accept")
    ]
    assert_sent_once_each(result, ambiguous)
    assert not result.disagreeing()


# --- A worker SIGKILLed mid-batch, a second one finishing, every batch queued twice ---------


def test_a_killed_worker_and_a_racing_rerun_send_nothing_twice_and_leave_nothing_behind(
    outcome,
):
    result = outcome("sigkill")
    assert not result.doubles(), describe(result.doubles())
    assert not result.lost(), describe(result.lost())
    assert result.recovery_seconds is not None and result.recovery_seconds < 60
    # The messages the killed worker never reached were sent by the other.
    assert sum(m.accepted for m in result.messages) >= len(result.messages) - 80


def test_after_a_killed_worker_every_final_status_agrees_with_the_provider(outcome):
    result = outcome("sigkill")
    assert not result.disagreeing(), describe(result.disagreeing())
    assert_sent_once_each(result, result.messages)


# --- The broker restarted empty -------------------------------------------------------------


def test_a_broker_restarted_empty_loses_no_message_and_sends_none_twice(outcome):
    result = outcome("broker")
    assert_sent_once_each(result, result.messages)
    assert not result.disagreeing()
    # Its tasks were gone: the due tick queued the messages again within seconds.
    assert result.recovery_seconds is not None and result.recovery_seconds < 30


# --- The database drops the worker's connections --------------------------------------------


def test_dropped_database_connections_send_nothing_twice_and_leave_nothing_behind(outcome):
    result = outcome("database")
    assert not result.doubles(), describe(result.doubles())
    assert not result.lost(), describe(result.lost())
    assert result.recovery_seconds is not None and result.recovery_seconds < 60


def test_after_dropped_database_connections_every_final_status_agrees_with_the_provider(
    outcome,
):
    result = outcome("database")
    assert not result.disagreeing(), describe(result.disagreeing())
    assert_sent_once_each(result, result.messages)
