"""Real Celery worker processes for the tests that need one: started on Redis with the test's
clock (tests/clock.py) and database, on a queue of their own, and stopped (or killed) by the
test. The integration tests, the send benchmark's smoke run and the fault suite share these."""

import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app
from config.dburl import database_url
from tests.clock import clocked_command
from tests.conftest import require_service

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
BASE_DIR = Path(settings.BASE_DIR)


def redis_available(url: str = REDIS_URL) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def require_worker_services() -> None:
    """Skip (fail under CI=true) without Redis; skip on a database a worker cannot share."""
    require_service(redis_available(), f"Redis is not reachable at {REDIS_URL}")
    if connection.vendor == "sqlite" and ":memory:" in str(connection.settings_dict["NAME"]):
        import pytest

        pytest.skip("an in-memory SQLite test database cannot be shared with a worker process")


def new_queue(prefix: str = "it") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class Worker:
    """A worker process and its log."""

    proc: subprocess.Popen
    log_path: Path
    name: str
    _log: object = field(repr=False, default=None)

    def log(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:]

    def kill(self) -> None:
        """SIGKILL: no cleanup, no acknowledgement, connections dropped as they are."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()


def start_worker(
    *,
    queue: str,
    log_dir: Path,
    broker: str = REDIS_URL,
    name: str = "w",
    concurrency: int = 2,
    env: dict | None = None,
    loglevel: str = "INFO",
    prefix: list[str] | None = None,
) -> Worker:
    """A `celery worker --pool=threads` on `queue`, with the test settings (not eager), this
    test's database and clock, and `env` on top; `prefix` runs it through another command
    (`ip netns exec <namespace>`: on another "host")."""
    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_BROKER_URL": broker,
        "CELERY_QUEUE": queue,
        "DATABASE_URL": database_url(),
        **(env or {}),
    }
    log_path = log_dir / f"worker-{name}.log"
    log = open(log_path, "w+")
    proc = subprocess.Popen(
        (prefix or [])
        + clocked_command(
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=threads",
            f"--concurrency={concurrency}",
            "-Q",
            queue,
            "-n",
            f"{name}-{queue}@%h",
            "--without-gossip",
            "--without-mingle",
            f"--loglevel={loglevel}",
        ),
        cwd=BASE_DIR,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return Worker(proc=proc, log_path=log_path, name=name, _log=log)


class Publisher:
    """Publishes tasks from the test process to a worker's queue on an explicit broker
    connection; the app's configured broker (filesystem in tests) is left alone, and the app
    is not eager while it lives."""

    def __init__(self, *, queue: str, broker: str = REDIS_URL):
        self.queue = queue
        self._eager = celery_app.conf.task_always_eager
        celery_app.conf.task_always_eager = False
        self.connection = celery_app.connection(broker)

    def __call__(self, task, **kwargs) -> None:
        task.apply_async(kwargs=kwargs, queue=self.queue, connection=self.connection)

    def close(self) -> None:
        celery_app.conf.task_always_eager = self._eager
        self.connection.release()


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
