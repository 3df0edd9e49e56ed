"""Every Celery task of ours has a time limit and a smaller soft one; a send task ends before the
upkeep takes its messages for stuck, and a batch's provider calls fit in its soft limit."""

import importlib
import json
import math
import os
import pkgutil
import subprocess
import sys

import pytest
from django.conf import settings

import bench
import collections_app
import config
import messaging
import tenants
from config.celery import app
from messaging import enqueue
from messaging.upkeep import STUCK_AFTER_SECONDS
from tests.paths import ROOT

OUR_PACKAGES = (tenants, messaging, collections_app, bench, config)
OURS = tuple(f"{package.__name__}." for package in OUR_PACKAGES)


def _import_every_module() -> None:
    """Import every module of our packages (not only the `tasks` modules the worker's
    autodiscovery reads), so a task declared anywhere registers and is checked."""
    for package in OUR_PACKAGES:
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if ".migrations." in module.name or module.name.startswith("config.settings."):
                continue
            importlib.import_module(module.name)


def our_tasks() -> dict:
    """The app's registered tasks whose code is ours, whatever name they were given, once
    every installed app's tasks module is discovered (as a worker does at start)."""
    app.autodiscover_tasks(force=True)
    _import_every_module()
    return {
        name: task
        for name, task in app.tasks.items()
        if name.startswith(OURS) or getattr(task.run, "__module__", "").startswith(OURS)
    }


OUR_TASK_NAMES = sorted(our_tasks())


def test_the_tasks_of_every_app_are_found():
    assert {
        "collections_app.tasks.ladders_tick",
        "collections_app.tasks.import_run",
        "messaging.tasks.send_message",
        "messaging.tasks.send_messages",
        "messaging.tasks.messages_fan_out",
        "messaging.tasks.messages_upkeep",
        "messaging.tasks.messages_send_due",
    } <= set(OUR_TASK_NAMES)


def test_every_task_beat_schedules_is_ours_and_so_is_limited():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    scheduled |= {entry["task"] for entry in (app.conf.beat_schedule or {}).values()}
    assert "collections_app.tasks.ladders_tick" in scheduled
    assert scheduled <= set(OUR_TASK_NAMES), scheduled - set(OUR_TASK_NAMES)


@pytest.mark.parametrize("name", OUR_TASK_NAMES)
def test_every_task_has_a_time_limit_and_a_smaller_soft_limit(name):
    task = app.tasks[name]
    assert task.time_limit, f"{name} has no time_limit"
    assert task.soft_time_limit, f"{name} has no soft_time_limit"
    assert 0 < task.soft_time_limit < task.time_limit, name


@pytest.mark.parametrize("name", [enqueue.SEND_MESSAGE_TASK, enqueue.SEND_MESSAGES_TASK])
def test_a_send_task_ends_before_the_upkeep_takes_its_messages_for_stuck(name):
    task = app.tasks[name]
    assert task.soft_time_limit < task.time_limit < STUCK_AFTER_SECONDS


def test_a_send_batch_fits_in_its_soft_limit_with_the_provider_timeout():
    # Each round of provider calls waits at most a connect and a read of the timeout; the
    # batch overhead is left for rendering and the queries.
    rounds = math.ceil(enqueue.SEND_BATCH / settings.MESSAGING_SEND_CONCURRENCY)
    call = 2 * settings.PROVIDER_TIMEOUT_SECONDS
    overhead = settings.SEND_BATCH_OVERHEAD_SECONDS
    assert overhead >= 10
    assert rounds * call + overhead <= app.tasks[enqueue.SEND_MESSAGES_TASK].soft_time_limit
    assert call + overhead <= app.tasks[enqueue.SEND_MESSAGE_TASK].soft_time_limit


def django_setting(name: str, **env) -> str:
    """A setting (or a module's constant: `module.NAME`) as JSON, read by a fresh process with
    these environment variables."""
    module, _, attr = name.rpartition(".")
    source = f"import {module} as m" if module else "from django.conf import settings as m"
    code = f"import django, json; django.setup(); {source}; print(json.dumps(m.{attr}))"
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, **env},
    ).stdout.strip()


def test_the_limits_follow_the_provider_timeout_and_the_batch_size(monkeypatch):
    """The limits and the stuck threshold are derived, not written down: a longer provider
    timeout moves them all, and the order soft < hard < stuck holds."""
    monkeypatch.setenv("PROVIDER_TIMEOUT_SECONDS", "60")
    monkeypatch.setenv("SEND_BATCH_OVERHEAD_SECONDS", "30")
    soft, hard, stuck = (
        int(json.loads(django_setting(name)))
        for name in (
            "messaging.tasks.SEND_SOFT_TIME_LIMIT",
            "messaging.tasks.SEND_TIME_LIMIT",
            "messaging.upkeep.STUCK_AFTER_SECONDS",
        )
    )
    rounds = math.ceil(enqueue.SEND_BATCH / settings.MESSAGING_SEND_CONCURRENCY)
    assert soft == rounds * 2 * 60 + 30
    assert soft < hard < stuck


def test_the_broker_gives_a_dead_workers_sends_back_soon_but_never_a_live_ones():
    """Redis gives an unacknowledged task to another worker after the visibility timeout: it
    must outlast the longest a live worker holds a send (a short ETA hold, then the hard limit)
    and stay short, so a killed worker's sends come back within minutes, not an hour."""
    options = json.loads(
        django_setting("CELERY_BROKER_TRANSPORT_OPTIONS", CELERY_BROKER_URL="redis://127.0.0.1/0")
    )
    held = messaging.tasks.SEND_HOLD_MAX_SECONDS + max(
        app.tasks[name].time_limit
        for name in (enqueue.SEND_MESSAGES_TASK, enqueue.SEND_MESSAGE_TASK)
    )
    assert held < options["visibility_timeout"] <= 600
    assert options["unacked_restore_interval"] * options["unacked_restore_throttle"] <= 30
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert app.tasks[enqueue.SEND_MESSAGES_TASK].acks_late
    assert app.tasks[enqueue.SEND_MESSAGE_TASK].acks_late


def test_the_due_tick_and_the_upkeep_run_every_minute():
    entry = settings.CELERY_BEAT_SCHEDULE["messages-due"]
    assert entry["task"] == enqueue.SEND_DUE_TASK
    assert entry["schedule"] <= 60
    assert app.tasks[enqueue.SEND_DUE_TASK].time_limit < entry["schedule"]
    upkeep = settings.CELERY_BEAT_SCHEDULE["messages-upkeep"]
    assert upkeep["task"] == enqueue.UPKEEP_TASK and upkeep["schedule"] <= 60


def test_the_task_names_enqueue_sends_are_registered():
    names = [enqueue.SEND_MESSAGE_TASK, enqueue.SEND_MESSAGES_TASK, enqueue.FAN_OUT_TASK]
    assert all(name in OUR_TASK_NAMES for name in names + [enqueue.UPKEEP_TASK])
