from django.core.management.base import BaseCommand, CommandError
from django_scopes import scope

from collections_app.stats import funnel_rebuild, stats_refresh
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Recompute the dashboard's daily rollups from the invoices, for one tenant or all "
        "(after data was written around the services, e.g. a direct database load)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="tenant slug (default: every tenant)")

    def handle(self, *args, **opts):
        tenants = Tenant.objects.order_by("pk")
        if opts["tenant"]:
            tenants = tenants.filter(slug=opts["tenant"])
            if not tenants.exists():
                raise CommandError(f"No tenant with slug {opts['tenant']!r}")
        for tenant in tenants:
            with scope(tenant=tenant):
                rows = stats_refresh(tenant_id=tenant.pk)
                funnel = funnel_rebuild(tenant_id=tenant.pk)
            self.stdout.write(f"{tenant.slug}: {rows} daily rows, {funnel} funnel rows")
