import random

from celery import shared_task

from tenants.tasks import TenantTask

from .models import Message, MessageStatus
from .services import message_fail, message_send, messages_reconcile_stuck

MAX_RETRIES = 6


def _backoff(retries: int) -> float:
    """Exponential backoff with jitter for transient provider errors."""
    return min(3600, 30 * 2**retries) * random.uniform(0.8, 1.2)


@shared_task(base=TenantTask, bind=True, max_retries=MAX_RETRIES, acks_late=True)
def send_message(self, *, message_id: int, tenant):
    outcome = message_send(tenant=tenant, message_id=message_id)
    if outcome.defer_until is not None:
        send_message.apply_async(
            kwargs={"message_id": message_id, "tenant_id": tenant.pk}, eta=outcome.defer_until
        )
    elif outcome.retry:
        if self.request.retries >= self.max_retries:
            # Out of retries: end it as failed, with the provider's last error as the reason.
            message = Message.objects.get(pk=message_id)
            message_fail(
                tenant=tenant,
                message=message,
                reason=f"Gave up after {self.max_retries} retries: {message.error}",
            )
            return MessageStatus.FAILED
        raise self.retry(countdown=_backoff(self.request.retries))
    return outcome.status


@shared_task(base=TenantTask, acks_late=True)
def send_messages(*, message_ids: list[int], tenant) -> dict:
    """Send a batch of one tenant's messages (the daily evaluation queues them this way). A
    message that must wait (send window) or retry (transient error) continues on its own."""
    counts: dict[str, int] = {}
    for message_id in message_ids:
        outcome = message_send(tenant=tenant, message_id=message_id)
        if outcome.defer_until is not None:
            send_message.apply_async(
                kwargs={"message_id": message_id, "tenant_id": tenant.pk},
                eta=outcome.defer_until,
            )
        elif outcome.retry:
            send_message.apply_async(
                kwargs={"message_id": message_id, "tenant_id": tenant.pk}, countdown=_backoff(0)
            )
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return counts


@shared_task(base=TenantTask)
def messages_reconcile_stuck_for_tenant(*, tenant) -> int:
    """Settle messages whose worker died mid-send; see `messages_reconcile_stuck`."""
    return messages_reconcile_stuck(tenant=tenant)
