import random

from celery import shared_task

from tenants.tasks import TenantTask

from .services import message_send


@shared_task(base=TenantTask, bind=True, max_retries=6, acks_late=True)
def send_message(self, *, message_id: int, tenant):
    outcome = message_send(tenant=tenant, message_id=message_id)
    if outcome.defer_until is not None:
        send_message.apply_async(
            kwargs={"message_id": message_id, "tenant_id": tenant.pk}, eta=outcome.defer_until
        )
    elif outcome.retry:
        # Exponential backoff with jitter for transient provider errors.
        countdown = min(3600, 30 * 2**self.request.retries) * random.uniform(0.8, 1.2)
        raise self.retry(countdown=countdown)
    return outcome.status
