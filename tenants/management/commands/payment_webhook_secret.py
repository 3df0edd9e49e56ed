import secrets

from django.core.management.base import BaseCommand, CommandError

from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Print the tenant's secret for signing payment notifications to "
        "/webhooks/payments/<tenant>/, creating it if there is none; --rotate replaces it."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--rotate", action="store_true", help="replace the current secret")

    def handle(self, *args, **opts):
        tenant = Tenant.objects.filter(slug=opts["slug"]).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {opts['slug']!r}")
        if opts["rotate"] or not tenant.payment_webhook_secret:
            tenant.payment_webhook_secret = f"whsec_{secrets.token_urlsafe(32)}"
            tenant.save(update_fields=["payment_webhook_secret"])
            self.stderr.write(f"New payment webhook secret for {tenant.slug}:")
        self.stdout.write(tenant.payment_webhook_secret)
