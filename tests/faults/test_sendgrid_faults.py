"""The fault suite's SendGrid row: never twice, never wrong, for e-mail. Real Celery workers on
Redis send a tenant's e-mails through the real `sendgrid` SDK to a loopback SendGrid that keeps
its own record of every call (tests/faults/fake_sendgrid.py) while it accepts some and then
resets the connection or answers too late, refuses others with a 5xx or a 429 with
Retry-After, and posts signed Event Webhook events (`processed`, `delivered`, carrying
`regua_ref`) to Régua's real webhook URL for what it accepted — except, for some addresses,
never. From the fake's record: no e-mail accepted twice, none left unfinished, no final status
the record contradicts; an e-mail whose events never come stays `unknown` and is never sent
again, and half an hour after its claim (the clock moved on, the upkeep run once more) a
person gets a task to check it. The scenario runs once and prints its figures (`pytest -s`)."""

import time

import pytest
from django_scopes import scope, scopes_disabled

from collections_app.models import FollowUpTask, InvoiceMessage
from messaging.models import Message, MessageStatus
from messaging.upkeep import ESCALATE_AFTER_SECONDS, NEEDS_PERSON_NOTE, messages_reconcile_stuck
from tests.collections_app.factories import InvoiceFactory
from tests.faults.harness import DELIVERED, EMAIL_DOMAIN, FINAL, Outcome, run_scenario

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# By the address's index: refused calls, slowness, the ambiguous ones (SendGrid took the
# e-mail but the client never heard so), and an ambiguous one whose events never arrive.
PROFILES = [
    "ok",
    "slow",
    "storm",
    "throttle",
    "timeout_after_accept",
    "drop_after_accept",
    "ok",
    "silent",
    "slow",
    "drop_after_accept",
]
FAULT_CALLS = {"storm": 2, "throttle": 1, "timeout_after_accept": 1, "drop_after_accept": 1}
AMBIGUOUS = ("timeout_after_accept", "drop_after_accept")
EMAILS = 100

_outcomes: dict[str, Outcome] = {}


def profile(to: str) -> str:
    return PROFILES[int(to[1:9]) % len(PROFILES)]


def provider_fault(to: str, n: int) -> str:
    kind = profile(to)
    if kind == "silent":
        return "drop_after_accept" if n == 0 else "ok"
    if kind in FAULT_CALLS:
        return kind if n < FAULT_CALLS[kind] else "ok"
    return kind


def with_events(to: str) -> bool:
    return profile(to) != "silent"


def settled(message) -> bool:
    """Final; or, for an e-mail whose events never come, `unknown` (what it must stay)."""
    if profile(message.recipient) == "silent":
        return message.status == MessageStatus.UNKNOWN
    return message.status in FINAL


def _provider_faults(s):
    s.start_worker("a")
    s.fault_ended = time.monotonic()  # the faults last the whole run; timed from its start


def _half_an_hour_later(result: Outcome, frozen_clock, settings) -> dict:
    """The workers stopped, each silent e-mail is linked to an invoice of its customer (as a
    reminder is), the clock moves past the upkeep's escalation and the upkeep runs once more,
    in the test's process: what becomes of the e-mails whose events never came."""
    settings.SENDGRID_API_HOST = "http://127.0.0.1:9"  # a resend could not leave the machine
    tenant = result.tenant
    silent_to = [m.to for m in result.messages if not with_events(m.to)]
    with scopes_disabled():
        silent = list(Message.objects.filter(tenant=tenant, recipient__in=silent_to))
        for k, message in enumerate(silent):
            invoice = InvoiceFactory(
                tenant=tenant,
                customer={
                    "external_id": f"S{k}",
                    "name": f"Cliente {k}",
                    "email": message.recipient,
                },
            )
            InvoiceMessage.objects.create(tenant=tenant, invoice=invoice, message=message)
    frozen_clock.shift(ESCALATE_AFTER_SECONDS + 60)
    with scope(tenant=tenant):
        changed = messages_reconcile_stuck(tenant=tenant)
    with scopes_disabled():
        return {
            "changed": changed,
            "messages": list(Message.objects.filter(pk__in=[m.pk for m in silent])),
            "tasks": list(FollowUpTask.objects.filter(tenant=tenant, origin="message_check")),
        }


@pytest.fixture
def outcome(tmp_path_factory, frozen_clock, settings):
    def get() -> Outcome:
        if "sendgrid" not in _outcomes:
            result = run_scenario(
                "sendgrid",
                provider="sendgrid",
                tmp_path=tmp_path_factory.mktemp("fault-sendgrid"),
                fault=_provider_faults,
                fake_fault=provider_fault,
                events=with_events,
                settled=settled,
                messages=EMAILS,
                batch=25,
                latency=0.3,
                retry_after=4,
            )
            result.later = _half_an_hour_later(result, frozen_clock, settings)
            _outcomes["sendgrid"] = result
        return _outcomes["sendgrid"]

    return get


def describe(messages) -> str:
    return "; ".join(
        f"{m.to} {m.status} accepted {m.accepted}x {m.error[:80]}" for m in messages[:5]
    )


def test_sendgrid_faults_send_each_email_once_and_settle_every_unknown_one_by_its_events(
    outcome,
):
    result = outcome()
    assert len(result.messages) == EMAILS
    assert not result.doubles(), describe(result.doubles())
    assert not result.disagreeing(), describe(result.disagreeing())
    heard = [m for m in result.messages if with_events(m.to)]
    assert not result.lost(heard), describe(result.lost(heard))
    wrong = [m for m in heard if m.status not in DELIVERED or m.accepted != 1]
    assert not wrong, describe(wrong)
    assert result.recovery_seconds is not None
    # The refused calls were tried again, and only those; the ambiguous ones never.
    posts = result.fake.posts_by_to()
    for m in heard:
        expected = 1 + FAULT_CALLS.get(profile(m.to), 0) * (profile(m.to) not in AMBIGUOUS)
        assert len(posts[m.to]) == expected, (m.to, [c.fault for c in posts[m.to]])
    # Every e-mail whose answer never came was settled by SendGrid's signed events.
    settled_by_events = [m for m in heard if profile(m.to) in AMBIGUOUS]
    assert settled_by_events and all(
        m.error.startswith("Confirmed by SendGrid's events") for m in settled_by_events
    ), describe(settled_by_events)
    assert all(m.to.endswith(EMAIL_DOMAIN) for m in result.messages)


def test_a_429_from_sendgrid_is_tried_again_no_sooner_than_its_retry_after(outcome):
    result = outcome()
    posts = result.fake.posts_by_to()
    waits = [
        posts[m.to][1].at - posts[m.to][0].at
        for m in result.messages
        if profile(m.to) == "throttle"
    ]
    assert waits and min(waits) >= result.fake.retry_after - 0.1, sorted(waits)[:5]


def test_an_accepted_email_whose_events_never_come_stays_unknown_and_is_never_resent(outcome):
    result = outcome()
    silent = [m for m in result.messages if not with_events(m.to)]
    assert silent
    # SendGrid has each once; Régua never called again and does not claim to know.
    assert all(m.accepted == 1 and m.status == MessageStatus.UNKNOWN for m in silent), describe(
        silent
    )
    posts = result.fake.posts_by_to()
    assert all(len(posts[m.to]) == 1 for m in silent)


def test_half_an_hour_later_a_person_is_asked_to_check_each_silent_email_and_none_is_resent(
    outcome,
):
    result = outcome()
    later = result.later
    silent = later["messages"]
    assert silent and later["changed"] == len(silent)
    assert all(
        m.status == MessageStatus.UNKNOWN
        and not m.resent
        and m.escalated_at is not None
        and m.error == NEEDS_PERSON_NOTE
        for m in silent
    ), [(m.recipient, m.status, m.resent, m.error[:60]) for m in silent]
    # One task per e-mail, on its invoice, naming its address.
    titles = sorted(t.title for t in later["tasks"])
    assert len(titles) == len(silent), titles
    for message, title in zip(sorted(silent, key=lambda m: m.recipient), titles, strict=True):
        assert title.startswith("Confirmar envio de") and message.recipient in title, title
