from django.core.management.base import BaseCommand
from django_scopes import scope

from collections_app.management.tenant_option import add_tenant_option, tenants_chosen
from collections_app.stats.rollups import funnel_rebuild, stats_refresh


class Command(BaseCommand):
    help = (
        "Recompute the dashboard's daily rollups from the invoices, for one tenant or all "
        "(after data was written around the services, e.g. a direct database load)."
    )

    def add_arguments(self, parser):
        add_tenant_option(parser)

    def handle(self, *args, **opts):
        tenants = tenants_chosen(opts["tenant"])
        for tenant in tenants:
            with scope(tenant=tenant):
                rows = stats_refresh(tenant_id=tenant.pk)
                funnel = funnel_rebuild(tenant_id=tenant.pk)
            self.stdout.write(f"{tenant.slug}: {rows} daily rows, {funnel} funnel rows")
