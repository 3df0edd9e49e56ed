from celery import Task
from django_scopes import scope

from .models import Tenant


class TenantTask(Task):
    """Base class for tasks that work inside one tenant: called with `tenant_id=`, it loads
    the tenant, opens its scope and passes `tenant=` to the task body."""

    abstract = True
    # The body takes `tenant`, callers pass `tenant_id`: skip Celery's signature check.
    typing = False

    def __call__(self, *args, tenant_id: int, **kwargs):
        tenant = Tenant.objects.get(pk=tenant_id)
        with scope(tenant=tenant):
            return super().__call__(*args, tenant=tenant, **kwargs)
