"""A user's saved filter of the overdue queue, per tenant: the queue opens on it again, after a
logout too."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_scopes import ScopedManager

from tenants.models import Tenant


class QueueFilter(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The query string's filter fields (status, q, sort), as the queue read them.
    params = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="uniq_queue_filter_user")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.tenant_id}: {self.params}"
