from django.core.management.base import BaseCommand, CommandError

from tenants.models import Tenant
from tenants.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a tenant. The key is printed once, alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", default="default")

    def handle(self, *args, **opts):
        tenant = Tenant.objects.filter(slug=opts["slug"]).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {opts['slug']!r}")
        key, raw = api_key_create(tenant=tenant, name=opts["name"])
        self.stderr.write(
            f"API key {key.name!r} for {tenant.slug} (store it now; it is not shown again):"
        )
        self.stdout.write(raw)
