"""Across machines: three worker hosts, each a network namespace of its own reaching
PostgreSQL, the broker and the provider only over its link (tests/faults/netns.py), send one
tenant's SMS together while beat's tasks run; one host's link is cut mid-batch and restored
seconds later. From the provider's own record: nothing sent twice, nothing left unfinished, no
final status it contradicts, and the batches were spread across the hosts. The topology is
the one docs/operations.md ("Reliability and recovery") describes. Needs root and `ip`;
skipped without them, except under CI=true."""

import time

import pytest
from django_scopes import scopes_disabled

from messaging.models import Message
from tests.faults.harness import FINAL, run_scenario

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CUT_SECONDS = 5  # longer than the provider timeout, shorter than a send taken for stuck
BATCH = 10


def _cut_one_host(s):
    """Workers on three hosts; once each has carried provider calls, the link of one caught
    in the middle of a batch (its calls not a whole number of batches) goes down for
    CUT_SECONDS, then comes back."""
    for host in s.hosts:
        s.start_worker(host.name, host=host)

    def calls(host) -> int:
        return host.posts(s.fake.url)

    deadline = time.monotonic() + 40
    while not all(calls(h) for h in s.hosts) or not any(
        2 <= calls(h) % BATCH <= BATCH - 3 for h in s.hosts
    ):
        assert time.monotonic() < deadline, f"the hosts never all sent:\n{s.logs()}"
        time.sleep(0.02)
    cut = next(h for h in s.hosts if 2 <= calls(h) % BATCH <= BATCH - 3)
    at_cut = {h.name: calls(h) for h in s.hosts}
    cut.cut()
    time.sleep(CUT_SECONDS)
    cut.restore()
    s.fault_ended = time.monotonic()
    with scopes_disabled():
        still_open = Message.objects.filter(tenant=s.tenant).exclude(status__in=FINAL).count()
    s.notes.append(
        f"{cut.name}'s link cut for {CUT_SECONDS} s with provider calls by host {at_cut}; "
        f"{still_open} messages not final at its restore"
    )
    return {"host": cut.name, "calls": at_cut, "open_at_restore": still_open}


def test_a_cut_and_restored_link_loses_nothing_doubles_nothing_and_hosts_share_the_batches(
    tmp_path,
):
    cut = {}
    result = run_scenario(
        "hosts",
        tmp_path=tmp_path,
        fault=lambda s: cut.update(_cut_one_host(s)),
        messages=240,
        batch=BATCH,
        latency=0.5,
        private_broker=True,
        hosts=3,
        timeout=45,
    )
    report = result.report()
    # The link went down with work left: there was something to lose or to send twice.
    assert cut["open_at_restore"] > 0, report
    assert result.recovery_seconds is not None, report
    assert not result.doubles(), report
    assert not result.lost(), report
    assert not result.disagreeing(), report
    # Every message was sent, once (the provider here refuses nothing).
    assert all(m.accepted == 1 for m in result.messages), report
    # The batches were spread across the hosts, and the cut one sent again once restored.
    assert all(result.calls_by_host.values()), report
    assert result.calls_by_host[cut["host"]] > cut["calls"][cut["host"]], report
