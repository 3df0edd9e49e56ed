"""Every Celery task of ours has a time limit and a smaller soft one; a send task ends before the
upkeep takes its messages for stuck, and a batch's provider calls fit in its soft limit."""

import importlib
import math
import pkgutil

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
    # Each round of provider calls waits at most a connect and a read of the timeout; half the
    # soft limit is left for rendering and the queries.
    rounds = math.ceil(enqueue.SEND_BATCH / settings.MESSAGING_SEND_CONCURRENCY)
    call = 2 * settings.PROVIDER_TIMEOUT_SECONDS
    assert rounds * call < app.tasks[enqueue.SEND_MESSAGES_TASK].soft_time_limit / 2
    assert call < app.tasks[enqueue.SEND_MESSAGE_TASK].soft_time_limit / 2


def test_the_task_names_enqueue_sends_are_registered():
    names = [enqueue.SEND_MESSAGE_TASK, enqueue.SEND_MESSAGES_TASK, enqueue.FAN_OUT_TASK]
    assert all(name in OUR_TASK_NAMES for name in names + [enqueue.UPKEEP_TASK])
