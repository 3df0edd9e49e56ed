from collections import defaultdict

from celery import shared_task
from django.utils.dateparse import parse_date

from collections_app.engine import ladders_evaluate_many
from collections_app.engine.evaluate import BATCH_TENANTS
from messaging.tasks import messages_upkeep
from tenants.models import Tenant
from tenants.selectors import tenant_local_now
from tenants.tasks import TenantTask


@shared_task
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


@shared_task
def ladders_evaluate_batch(*, tenant_ids: list[int], day: str) -> list[dict]:
    """Evaluate these tenants' ladders for their local date `day`."""
    tenants = list(Tenant.objects.filter(pk__in=tenant_ids).order_by("pk"))
    return [r.as_dict() for r in ladders_evaluate_many(tenants=tenants, today=parse_date(day))]


@shared_task(acks_late=True)
def webhook_deliver(*, delivery_id: int) -> str:
    """Send one outbound webhook delivery, if it is due: claimed by a conditional update, so a
    duplicate task finds nothing to do. A failed try queues the next one after its backoff."""
    from datetime import timedelta

    from django.utils import timezone
    from django_scopes import scopes_disabled

    from collections_app.models import DeliveryStatus, WebhookDelivery
    from collections_app.webhooks_out.events import webhook_attempt

    now = timezone.now()
    with scopes_disabled():
        claimed = WebhookDelivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
        ).update(next_attempt_at=now + timedelta(minutes=5))
        if not claimed:
            return "not due"
        delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
        wait = webhook_attempt(delivery=delivery)
    if wait:
        webhook_deliver.apply_async(kwargs={"delivery_id": delivery_id}, countdown=wait)
    return delivery.status


@shared_task
def webhooks_upkeep() -> int:
    """Queue again the deliveries whose task was lost (due more than 5 minutes ago)."""
    from datetime import timedelta

    from django.utils import timezone
    from django_scopes import scopes_disabled

    from collections_app.models import DeliveryStatus, WebhookDelivery

    with scopes_disabled():
        ids = list(
            WebhookDelivery.objects.filter(
                status=DeliveryStatus.PENDING,
                next_attempt_at__lt=timezone.now() - timedelta(minutes=5),
            ).values_list("id", flat=True)[:5000]
        )
    for delivery_id in ids:
        webhook_deliver.delay(delivery_id=delivery_id)
    return len(ids)


@shared_task
def imports_upkeep() -> dict:
    """Send again the imports whose task was lost; forget the files of old unfinished ones."""
    from collections_app.imports.jobs import imports_upkeep as upkeep

    return upkeep()


@shared_task(base=TenantTask, acks_late=True)
def import_run(*, job_id: int, tenant) -> str:
    """Run an import started in the dashboard (see `import_jobs`)."""
    from collections_app.imports.jobs import import_job_run
    from collections_app.models import ImportJob

    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        return "gone"
    return import_job_run(job=job).status
