from django.core.management.base import BaseCommand, CommandError
from django_scopes import scope

from collections_app.services import invoices_due_dates_refresh
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Move open invoices' effective due dates to where each tenant's business calendar puts "
        "them now (after an upgrade that changed the bank calendar), with the dashboard's rollups."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="slug of one tenant (default: all)")

    def handle(self, *args, **opts):
        tenants = Tenant.objects.order_by("pk")
        if opts["tenant"]:
            tenants = tenants.filter(slug=opts["tenant"])
            if not tenants.exists():
                raise CommandError(f"No tenant with slug {opts['tenant']!r}")
        total = 0
        for tenant in tenants:
            with scope(tenant=tenant):
                moved = invoices_due_dates_refresh(tenant=tenant)
            total += moved
            if moved:
                self.stdout.write(f"{tenant.slug}: {moved} open invoices got a new due date")
        self.stdout.write(f"{total} open invoices moved.")
