from django.core.management.base import BaseCommand
from django_scopes import scope

from collections_app.invoices.services import invoices_due_dates_refresh
from collections_app.management.tenant_option import add_tenant_option, tenants_chosen


class Command(BaseCommand):
    help = (
        "Move open invoices' effective due dates to where each tenant's business calendar puts "
        "them now (after an upgrade that changed the bank calendar), with the dashboard's rollups."
    )

    def add_arguments(self, parser):
        add_tenant_option(parser)

    def handle(self, *args, **opts):
        tenants = tenants_chosen(opts["tenant"])
        total = 0
        for tenant in tenants:
            with scope(tenant=tenant):
                moved = invoices_due_dates_refresh(tenant=tenant)
            total += moved
            if moved:
                self.stdout.write(f"{tenant.slug}: {moved} open invoices got a new due date")
        self.stdout.write(f"{total} open invoices moved.")
