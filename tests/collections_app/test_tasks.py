"""The domain's tasks: the names `collections_app.enqueue` sends are the registered tasks, and a
webhook delivery's task ends before the delivery can be claimed again."""

from celery import current_app

from collections_app import enqueue, tasks
from collections_app.webhooks_out.events import CLAIM_SECONDS, TIMEOUT_SECONDS


def test_the_names_enqueue_sends_are_the_registered_tasks():
    # shared_task gives a proxy; the registry holds the task it stands for.
    assert (
        current_app.tasks[enqueue.WEBHOOK_DELIVER_TASK]
        is tasks.webhook_deliver._get_current_object()
    )
    assert current_app.tasks[enqueue.IMPORT_RUN_TASK] is tasks.import_run._get_current_object()


def test_a_webhook_delivery_task_ends_before_its_claim_lapses():
    # A claimed delivery is due again after CLAIM_SECONDS: a task still sending then could
    # cross a second one. Its POST waits at most a connect and a read of TIMEOUT_SECONDS.
    task = tasks.webhook_deliver
    assert 2 * TIMEOUT_SECONDS < task.soft_time_limit < task.time_limit < CLAIM_SECONDS


def test_a_ladder_batch_may_run_longer_than_a_webhook_delivery():
    assert tasks.ladders_evaluate_batch.soft_time_limit > 5 * tasks.webhook_deliver.time_limit
