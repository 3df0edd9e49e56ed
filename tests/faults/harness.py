"""Running one fault scenario: a tenant's queued SMS (or e-mails) sent by real Celery workers
on Redis, with the real `twilio` (or `sendgrid`) SDK, to a loopback fake
(tests/faults/fake_twilio.py, fake_sendgrid.py); a fault injected while they send; beat's
periodic tasks published by a thread of the test, faster than in production; the fake's
signed delivery events posted to Régua's real webhook URL (SendGrid: through the Django test
client, in the test's process); then the outcome read from the database and from the fake's
own record.

The workers run with small timings, so a scenario takes seconds: a provider timeout of 1 s
(derived: batch time limits of 10 s soft and 12 s hard, a send left `sending` for 14 s taken
for stuck), a message queued 3 s without its task taken for lost, retries after about 1 s,
the broker's visibility timeout 20 s. The arithmetic is production's, only the inputs shrink."""

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection
from django.test import Client
from django_scopes import scopes_disabled

from config.dburl import database_url
from messaging.models import Message, MessagePurpose, MessageStatus, new_message_refs
from messaging.tasks import messages_upkeep, send_messages
from tests.conftest import require_service
from tests.faults.fake_sendgrid import FakeSendGrid
from tests.faults.fake_twilio import FakeTwilio
from tests.messaging.factories import ProviderAccountFactory
from tests.tenants.factories import TenantFactory
from tests.workers import (
    REDIS_URL,
    Publisher,
    Worker,
    new_queue,
    require_worker_services,
    start_worker,
)

FINAL = {
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.READ,
    MessageStatus.FAILED,
    MessageStatus.UNDELIVERED,
    MessageStatus.CANCELLED,
}
DELIVERED = {MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ}

WORKER_ENV = {
    "PROVIDER_TIMEOUT_SECONDS": "1",
    "SEND_BATCH_OVERHEAD_SECONDS": "2",
    "SEND_STALE_AFTER_SECONDS": "3",
    "SEND_RETRY_BASE_SECONDS": "1",
    "CELERY_VISIBILITY_TIMEOUT": "20",
    "MESSAGING_RATE_LIMITS": "false",
    # Reconciliation may call a message Twilio does not list absent this soon after its claim.
    "TWILIO_LISTING_DELAY_SECONDS": "2",
}
NUMBER_PREFIX = "+55119"  # then the message's index in 8 digits
EMAIL_DOMAIN = "@faults.example"  # an e-mail's address: "p" + its index in 8 digits + this
BEAT_EVERY = 1.0  # seconds between two rounds of beat's messaging tasks


@dataclass
class Sent:
    """One message as Régua ended it, and what the fake recorded for it."""

    ref: str
    to: str
    body: str
    status: str
    error: str
    accepted: int  # calls the fake accepted for it


@dataclass
class Outcome:
    name: str
    messages: list[Sent]
    fake: FakeTwilio | FakeSendGrid
    recovery_seconds: float | None  # from the fault's end to every message final
    notes: list[str] = field(default_factory=list)
    tenant: object = None
    # With `hosts`: the provider calls each host's link carried, by host name.
    calls_by_host: dict[str, int] = field(default_factory=dict)

    def subset(self, to_prefixes=None, refs=None) -> list[Sent]:
        return [
            m
            for m in self.messages
            if (refs is None or m.ref in refs)
            and (to_prefixes is None or any(m.to.startswith(p) for p in to_prefixes))
        ]

    def doubles(self, messages=None) -> list[Sent]:
        return [m for m in (messages or self.messages) if m.accepted > 1]

    def lost(self, messages=None) -> list[Sent]:
        """Never final: neither sent once nor ended with a status that says why."""
        return [m for m in (messages or self.messages) if m.status not in FINAL]

    def disagreeing(self, messages=None) -> list[Sent]:
        """A final status the provider's record contradicts: `sent` with no accepted call, or
        failed/cancelled for a message the provider accepted."""
        return [
            m
            for m in (messages or self.messages)
            if m.status in FINAL and (m.status in DELIVERED) != (m.accepted >= 1)
        ]

    def report(self) -> str:
        statuses = Counter(m.status for m in self.messages)
        took = "never" if self.recovery_seconds is None else f"{self.recovery_seconds:.1f} s"
        return (
            f"[fault {self.name}] {len(self.messages)} messages, "
            f"{self.fake.accepted_count()} accepted by the provider, "
            f"{len(self.doubles())} sent twice, {len(self.lost())} not final, "
            f"{len(self.disagreeing())} disagreeing with the provider; statuses "
            f"{dict(sorted(statuses.items()))}; every message final {took} after the fault"
            + "".join(f"; {note}" for note in self.notes)
        )


class Scenario:
    """What a fault function gets: the workers, the fake, and the means to start more workers
    or to mark when the fault ended."""

    def __init__(self, *, queue, log_dir, broker, fake, env):
        self.queue, self.log_dir, self.broker, self.fake = queue, log_dir, broker, fake
        self.env = env
        self.workers: list[Worker] = []
        self.fault_ended: float | None = None
        self.notes: list[str] = []
        self.hosts: list = []  # tests/faults/netns.Host, with run_scenario(hosts=N)
        self.host_env: dict[str, dict] = {}

    def start_worker(self, name: str, host=None) -> Worker:
        """A worker; on `host` (one of `hosts`), in its namespace, reaching every server
        through its link."""
        worker = start_worker(
            queue=self.queue,
            log_dir=self.log_dir,
            broker=self.broker,
            name=name,
            concurrency=2,
            env={**self.env, **self.host_env[host.name]} if host else self.env,
            loglevel="WARNING",
            prefix=host.prefix() if host else None,
        )
        self.workers.append(worker)
        return worker

    def wait_accepted(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.fake.accepted_count() < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"the provider accepted fewer than {count}:\n{self.logs()}")
            time.sleep(0.02)

    def logs(self) -> str:
        return "\n".join(f"--- {w.name}\n{w.log(3000)}" for w in self.workers)


class Beat(threading.Thread):
    """Publishes beat's messaging tasks (the schedule's, and the upkeep the ladders tick
    queues) every BEAT_EVERY seconds; a publish the broker refuses (it is down) is skipped."""

    def __init__(self, *, queue: str, broker: str):
        super().__init__(daemon=True)
        self.queue, self.broker = queue, broker
        self.halt = threading.Event()
        from config.celery import app

        names = {
            entry["task"]
            for entry in settings.CELERY_BEAT_SCHEDULE.values()
            if entry["task"].startswith("messaging.")
        } | {messages_upkeep.name}
        self.tasks = [app.tasks[name] for name in sorted(names)]

    def run(self):
        from config.celery import app

        while not self.halt.wait(BEAT_EVERY):
            try:
                with app.connection(self.broker) as conn:
                    for task in self.tasks:
                        task.apply_async(queue=self.queue, connection=conn, retry=False)
            except Exception:  # noqa: BLE001 - the broker is down: beat misses a tick
                continue


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server of the test's own on a free port (no persistence), so stopping it never
    disturbs the shared one."""

    def __init__(self, log_dir: Path):
        binary = shutil.which("redis-server")
        require_service(binary is not None, "redis-server is not installed")
        self.binary, self.port, self.log_dir = binary, free_port(), log_dir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no", "--logfile", str(self.log_dir / "redis.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        for _ in range(100):
            try:
                if client.ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise AssertionError("the private redis-server did not start")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def queue_messages(tenant, count: int, prefix: str) -> list[Message]:
    """`count` queued SMS of the tenant, each to its own number and with its reference in the
    body (as a payment link carries it), so the provider's record names the message."""
    refs = new_message_refs(count)
    with scopes_disabled():
        return Message.objects.bulk_create(
            [
                Message(
                    tenant=tenant,
                    channel="sms",
                    recipient=f"{prefix}{k:08d}",
                    purpose=MessagePurpose.MANUAL,
                    ref=ref,
                    body=f"Lembrete da fatura: https://pague.example/p/?m={ref}",
                )
                for k, ref in enumerate(refs)
            ]
        )


def queue_emails(tenant, count: int) -> list[Message]:
    """`count` queued e-mails of the tenant, each to its own address; SendGrid's record names
    the message by the `regua_ref` custom argument the send carries."""
    refs = new_message_refs(count)
    with scopes_disabled():
        return Message.objects.bulk_create(
            [
                Message(
                    tenant=tenant,
                    channel="email",
                    recipient=f"p{k:08d}{EMAIL_DOMAIN}",
                    purpose=MessagePurpose.MANUAL,
                    ref=ref,
                    subject="Lembrete da fatura",
                    body=f"Lembrete da fatura: https://pague.example/p/?m={ref}",
                )
                for k, ref in enumerate(refs)
            ]
        )


def _twilio_setup(tenant, *, count, fake_fault, latency, retry_after, events):
    ProviderAccountFactory(
        tenant=tenant,
        provider="twilio_sms",
        sender="+5511900000000",
        credentials={"account_sid": "AC" + os.urandom(16).hex(), "auth_token": "fault"},
    )
    fake = FakeTwilio(fault=fake_fault, latency=latency, retry_after=retry_after)
    env = {"TWILIO_API_BASE": fake.url}
    return queue_messages(tenant, count, NUMBER_PREFIX), fake, env


def _sendgrid_setup(tenant, *, count, fake_fault, latency, retry_after, events):
    fake = FakeSendGrid(fault=fake_fault, latency=latency, retry_after=retry_after, events=events)
    ProviderAccountFactory(
        tenant=tenant,
        provider="sendgrid",
        sender="cobranca@faults.example",
        credentials={"api_key": "SG.fault", "webhook_public_key": fake.public_key_text()},
    )
    env = {"SENDGRID_API_HOST": fake.url}
    return queue_emails(tenant, count), fake, env


PROVIDERS = {"twilio": _twilio_setup, "sendgrid": _sendgrid_setup}


class Events:
    """Posts the fake's due delivery events to the tenant's real webhook URL through the
    Django test client (the test's own process and database), as the provider would."""

    def __init__(self, *, fake, tenant):
        self.fake, self.client = fake, Client()
        self.url = f"/webhooks/sendgrid/{tenant.slug}/events/"
        self.statuses: Counter = Counter()

    def __call__(self) -> None:
        if isinstance(self.fake, FakeSendGrid):
            self.fake.post_due_events(self._post)

    def _post(self, body: str, headers: dict) -> int:
        response = self.client.post(
            self.url, body, content_type="application/json", headers=headers
        )
        self.statuses[response.status_code] += 1
        return response.status_code


def _accepted(fake, messages: list[Message]) -> list[int]:
    """How many times the fake accepted each message, from its own record."""
    if isinstance(fake, FakeSendGrid):
        by_ref = fake.accepted_by_ref()
        return [by_ref[m.ref] for m in messages]
    by_body = fake.accepted_by_body()
    return [by_body[(m.recipient, m.body)] for m in messages]


def run_scenario(
    name: str,
    *,
    tmp_path: Path,
    fault,
    provider: str = "twilio",
    messages: int = 200,
    batch: int = 20,
    twice: bool = False,
    fake_fault=lambda to, n: "slow",
    events=lambda to: True,
    settled=lambda message: message.status in FINAL,
    latency: float = 0.3,
    retry_after: int = 5,
    private_broker: bool = False,
    timeout: float = 60,
    hosts: int = 0,
) -> Outcome:
    """Queue `messages` SMS (`provider="sendgrid"`: e-mails), publish their send batches (each
    twice with `twice`: a re-run or a redelivery racing the first), run `fault(scenario)` while
    they are sent, posting the fake's due events (for the addresses `events(to)` allows) to
    the webhook meanwhile, then wait for every message to be `settled` (final, unless told
    otherwise) and read the outcome. With `hosts`, `scenario.hosts` are that many network
    namespaces (tests/faults/netns.py) to start workers on."""
    require_worker_services()
    if hosts:
        from tests.faults.netns import require_netns

        require_netns()
    if connection.vendor != "postgresql":
        require_service(False, "the fault suite needs PostgreSQL (several workers write at once)")
    tenant = TenantFactory(slug=f"faults-{name}")
    rows, fake, provider_env = PROVIDERS[provider](
        tenant,
        count=messages,
        fake_fault=fake_fault,
        latency=latency,
        retry_after=retry_after,
        events=events,
    )
    ids = [m.pk for m in rows]
    redis_server = PrivateRedis(tmp_path) if private_broker else None
    broker = REDIS_URL
    if redis_server:
        redis_server.start()
        broker = redis_server.url
    queue = new_queue(f"fault-{name}")
    with fake:
        env = {**WORKER_ENV, **provider_env}
        post_events = Events(fake=fake, tenant=tenant)
        scenario = Scenario(queue=queue, log_dir=tmp_path, broker=broker, fake=fake, env=env)
        scenario.redis = redis_server
        scenario.tenant = tenant
        scenario.ids = ids
        publish = Publisher(queue=queue, broker=broker)
        beat = Beat(queue=queue, broker=broker)
        try:
            if hosts:
                from tests.faults.netns import make_hosts

                scenario.hosts = make_hosts(hosts)
                for host in scenario.hosts:
                    scenario.host_env[host.name] = {
                        "DATABASE_URL": host.forward(database_url()),
                        "CELERY_BROKER_URL": host.forward(broker),
                        **{key: host.forward(url) for key, url in provider_env.items()},
                    }
            for k in range(0, len(ids), batch):
                for _ in range(2 if twice else 1):
                    publish(send_messages, message_ids=ids[k : k + batch], tenant_id=tenant.pk)
            beat.start()
            fault(scenario)
            if scenario.fault_ended is None:
                scenario.fault_ended = time.monotonic()
            recovered = None
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                post_events()
                with scopes_disabled():
                    open_ = [m for m in Message.objects.filter(pk__in=ids) if not settled(m)]
                if not open_:
                    recovered = time.monotonic() - scenario.fault_ended
                    break
                time.sleep(0.25)
            # Late calls (a resend, a duplicate) would show in the fake's record meanwhile.
            for _ in range(4):
                time.sleep(0.25)
                post_events()
            with scopes_disabled():
                final = list(Message.objects.filter(pk__in=ids).order_by("pk"))
            accepted = _accepted(fake, final)
            outcome = Outcome(
                name=name,
                messages=[
                    Sent(
                        ref=m.ref,
                        to=m.recipient,
                        body=m.body,
                        status=m.status,
                        error=m.error,
                        accepted=count,
                    )
                    for m, count in zip(final, accepted, strict=True)
                ],
                fake=fake,
                recovery_seconds=recovered,
                notes=scenario.notes,
                tenant=tenant,
                calls_by_host={h.name: h.posts(fake.url) for h in scenario.hosts},
            )
            if scenario.hosts:
                outcome.notes.append(f"provider calls by host {outcome.calls_by_host}")
            if post_events.statuses:
                outcome.notes.append(f"webhook answers {dict(post_events.statuses)}")
            if recovered is None:
                outcome.notes.append(f"worker logs:\n{scenario.logs()}")
            print(outcome.report().split("; worker logs")[0])
            return outcome
        finally:
            beat.halt.set()
            for worker in scenario.workers:
                worker.stop()
            publish.close()
            if redis_server:
                redis_server.kill()
            for host in scenario.hosts:
                host.destroy()
