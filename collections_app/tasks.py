"""The domain's Celery tasks: each takes ids, opens what it needs and calls one service.

Task names are Celery's default (`collections_app.tasks.<function>`): beat's schedule
(config/settings) and `collections_app.enqueue` name them so.

Time limits. The soft limit raises SoftTimeLimitExceeded inside the task (its transaction
rolls back); the hard limit kills the worker process. Each is set from what the task does,
under the broker's visibility timeout (CELERY_VISIBILITY_TIMEOUT, config/settings) where the
task acknowledges late; a longer late-ack task (an import) is delivered again while it runs and
its second copy finds the job claimed and does nothing."""

from collections import defaultdict

from celery import shared_task
from django.utils.dateparse import parse_date

from collections_app.engine import ladders_evaluate_many
from collections_app.engine.evaluate import BATCH_TENANTS
from collections_app.imports.jobs import import_job_run
from collections_app.imports.jobs import imports_upkeep as imports_housekeeping
from collections_app.models import ImportJob
from collections_app.webhooks_out.events import webhook_deliver_due, webhook_deliveries_lost
from messaging.tasks import messages_upkeep
from tenants.models import Tenant
from tenants.selectors import tenant_local_now
from tenants.tasks import TenantTask

# Beat's tick reads every tenant's clock (one query) and queues tasks.
TICK_SOFT_TIME_LIMIT = 120
TICK_TIME_LIMIT = 180
# A batch of BATCH_TENANTS tenants evaluated set-based in one transaction: about 1 s per
# 250,000 invoices measured (docs/benchmarks.md), minutes for the largest portfolios. A batch
# cut short rolls back and is queued again by the next tick.
EVALUATE_SOFT_TIME_LIMIT = 900
EVALUATE_TIME_LIMIT = 1020
# One POST of at most TIMEOUT_SECONDS to connect and to read: well under CLAIM_SECONDS (five
# minutes), after which the upkeep would queue the delivery again.
WEBHOOK_SOFT_TIME_LIMIT = 60
WEBHOOK_TIME_LIMIT = 90
# The upkeeps read a few thousand rows and queue their tasks.
UPKEEP_SOFT_TIME_LIMIT = 240
UPKEEP_TIME_LIMIT = 300
# An import of up to MAX_ROWS (500,000) rows: 100,000 rows take about 40 s measured. One cut
# short is marked failed by `import_job_run` (the soft limit is an exception it records).
IMPORT_SOFT_TIME_LIMIT = 1200
IMPORT_TIME_LIMIT = 1320


@shared_task(soft_time_limit=TICK_SOFT_TIME_LIMIT, time_limit=TICK_TIME_LIMIT)
def ladders_tick() -> int:
    """Beat's tick: queue the evaluation of every tenant whose local run time has passed today
    and that has not been evaluated today, in batches of up to BATCH_TENANTS tenants that share
    their local date (each batch is evaluated set-based, in one transaction); and queue the
    message upkeep. Returns how many tenants were queued.

    A tick that comes while a batch is still queued or running queues its tenants again, which
    is harmless: the second evaluation waits for the first's tenant locks, then finds the day
    done."""
    due: dict[str, list[int]] = defaultdict(list)
    for tenant in Tenant.objects.only("id", "timezone", "run_time", "last_evaluated_on"):
        local = tenant_local_now(tenant=tenant)
        if local.time() < tenant.run_time:
            continue
        if tenant.last_evaluated_on is not None and tenant.last_evaluated_on >= local.date():
            continue
        due[local.date().isoformat()].append(tenant.pk)
    for day, tenant_ids in due.items():
        for i in range(0, len(tenant_ids), BATCH_TENANTS):
            ladders_evaluate_batch.delay(tenant_ids=tenant_ids[i : i + BATCH_TENANTS], day=day)
    messages_upkeep.delay()
    webhooks_upkeep.delay()
    imports_upkeep.delay()
    return sum(len(ids) for ids in due.values())


@shared_task(soft_time_limit=EVALUATE_SOFT_TIME_LIMIT, time_limit=EVALUATE_TIME_LIMIT)
def ladders_evaluate_batch(*, tenant_ids: list[int], day: str) -> list[dict]:
    """Evaluate these tenants' ladders for their local date `day`."""
    tenants = list(Tenant.objects.filter(pk__in=tenant_ids).order_by("pk"))
    return [r.as_dict() for r in ladders_evaluate_many(tenants=tenants, today=parse_date(day))]


@shared_task(acks_late=True, soft_time_limit=WEBHOOK_SOFT_TIME_LIMIT, time_limit=WEBHOOK_TIME_LIMIT)
def webhook_deliver(*, delivery_id: int) -> str:
    """Send one outbound webhook delivery, if it is due (`webhook_deliver_due`: a duplicate
    task finds nothing to do). A failed try queues the next one after its backoff."""
    status, wait = webhook_deliver_due(delivery_id=delivery_id)
    if wait:
        webhook_deliver.apply_async(kwargs={"delivery_id": delivery_id}, countdown=wait)
    return status


@shared_task(soft_time_limit=UPKEEP_SOFT_TIME_LIMIT, time_limit=UPKEEP_TIME_LIMIT)
def webhooks_upkeep() -> int:
    """Queue again the deliveries whose task was lost (`webhook_deliveries_lost`)."""
    ids = webhook_deliveries_lost()
    for delivery_id in ids:
        webhook_deliver.delay(delivery_id=delivery_id)
    return len(ids)


@shared_task(soft_time_limit=UPKEEP_SOFT_TIME_LIMIT, time_limit=UPKEEP_TIME_LIMIT)
def imports_upkeep() -> dict:
    """Send again the imports whose task was lost; forget the files of old unfinished ones."""
    return imports_housekeeping()


@shared_task(
    base=TenantTask,
    acks_late=True,
    soft_time_limit=IMPORT_SOFT_TIME_LIMIT,
    time_limit=IMPORT_TIME_LIMIT,
)
def import_run(*, job_id: int, tenant) -> str:
    """Run an import started in the dashboard (see `import_jobs`)."""
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        return "gone"
    return import_job_run(job=job).status
