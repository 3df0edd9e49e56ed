"""Putting the domain's work on the queue: what services call to have a Celery task run.

The tasks are looked up by their registered names (Celery names them by module path), so a
service that queues work never imports `collections_app.tasks`, which imports the services:
services → enqueue never leads back to tasks. `collections_app.apps` imports the task module
when Django starts, so every process (a web process too, which does not discover tasks as a
worker does) finds them, and an eager test run calls them in place. As in
`messaging.enqueue`."""

from celery import Task, current_app
from django.db import transaction

WEBHOOK_DELIVER_TASK = "collections_app.tasks.webhook_deliver"
IMPORT_RUN_TASK = "collections_app.tasks.import_run"


def _task(name: str) -> Task:
    return current_app.tasks[name]


def webhook_deliveries_send_later(*, delivery_ids: list[int]) -> None:
    """Queue one send per outbound webhook delivery once the surrounding transaction commits
    (a worker must find the rows)."""

    def send() -> None:
        webhook_deliver = _task(WEBHOOK_DELIVER_TASK)
        for delivery_id in delivery_ids:
            webhook_deliver.delay(delivery_id=delivery_id)

    if delivery_ids:
        transaction.on_commit(send)


def import_run_later(*, job_id: int, tenant_id: int) -> None:
    """Queue the run of a dashboard import once the surrounding transaction commits."""
    transaction.on_commit(lambda: import_run_now(job_id=job_id, tenant_id=tenant_id))


def import_run_now(*, job_id: int, tenant_id: int) -> None:
    """Queue the run of a dashboard import at once (the upkeep resending a lost one)."""
    _task(IMPORT_RUN_TASK).delay(job_id=job_id, tenant_id=tenant_id)
