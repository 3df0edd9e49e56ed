from celery import shared_task
from django.utils.dateparse import parse_date

from messaging.services import messages_requeue_stale
from messaging.tasks import messages_reconcile_stuck_for_tenant
from tenants.models import Tenant
from tenants.selectors import tenant_local_now
from tenants.tasks import TenantTask

from .engine import ladder_evaluate


@shared_task
def ladders_tick() -> int:
    """Beat's tick: queue one evaluation per tenant whose local run time has passed today and
    that has not been evaluated today. Returns how many were queued."""
    queued = 0
    for tenant in Tenant.objects.all():
        messages_requeue_stale_for_tenant.delay(tenant_id=tenant.pk)
        messages_reconcile_stuck_for_tenant.delay(tenant_id=tenant.pk)
        local = tenant_local_now(tenant=tenant)
        if local.time() < tenant.run_time:
            continue
        if tenant.last_evaluated_on is not None and tenant.last_evaluated_on >= local.date():
            continue
        ladders_evaluate_tenant.delay(tenant_id=tenant.pk, day=local.date().isoformat())
        queued += 1
    return queued


@shared_task(base=TenantTask)
def messages_requeue_stale_for_tenant(*, tenant) -> int:
    return messages_requeue_stale(tenant=tenant)


@shared_task(base=TenantTask)
def ladders_evaluate_tenant(*, tenant, day: str) -> dict:
    return ladder_evaluate(tenant=tenant, today=parse_date(day)).as_dict()
