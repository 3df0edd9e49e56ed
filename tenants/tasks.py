from celery import Task
from django_scopes import scope

from tenants.models import Tenant


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

    def retry(self, args=None, kwargs=None, **options):
        # The request holds the loaded Tenant the body received, which cannot be serialised:
        # retry with the tenant's id, as the task was first called.
        if kwargs is None:
            kwargs = dict(self.request.kwargs or {})
            tenant = kwargs.pop("tenant", None)
            if tenant is not None:
                kwargs["tenant_id"] = tenant.pk
        return super().retry(args=args, kwargs=kwargs, **options)
