"""Every Celery task of ours has a time limit and a smaller soft one; a send task ends before the
upkeep takes its messages for stuck, and a batch's provider calls fit in its soft limit."""

import math

import pytest
from django.conf import settings

import collections_app.tasks  # noqa: F401  (registers the app's tasks)
import messaging.tasks  # noqa: F401
import tenants.tasks  # noqa: F401
from config.celery import app
from messaging import enqueue
from messaging.upkeep import STUCK_AFTER_SECONDS

OURS = ("collections_app.", "messaging.", "tenants.")


def our_tasks() -> dict:
    """The app's registered tasks of our apps, once every installed app's tasks module is
    discovered (as a worker does at start)."""
    app.autodiscover_tasks(force=True)
    return {name: task for name, task in app.tasks.items() if name.startswith(OURS)}


OUR_TASK_NAMES = sorted(our_tasks())


def test_the_tasks_of_every_app_are_found():
    assert {
        "collections_app.tasks.ladders_tick",
        "messaging.tasks.send_message",
        "messaging.tasks.send_messages",
        "messaging.tasks.messages_fan_out",
        "messaging.tasks.messages_upkeep",
    } <= set(OUR_TASK_NAMES)


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
