from django.core.management.base import BaseCommand, CommandError

from tenants.services import TenantConfigError, tenant_create


class Command(BaseCommand):
    help = "Create a tenant with its owner, the default ladder and pt-BR templates."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--password", default=None)
        parser.add_argument("--timezone", default="America/Sao_Paulo")
        parser.add_argument("--send-window", default="08:00-20:00", help="HH:MM-HH:MM")
        parser.add_argument(
            "--send-days", default="mon-sat", help="mon-sat, mon-sun or a list like mon,wed,fri"
        )

    def handle(self, *args, **opts):
        try:
            tenant = tenant_create(
                slug=opts["slug"],
                name=opts["name"],
                owner_email=opts["owner_email"],
                owner_password=opts["password"],
                timezone_name=opts["timezone"],
                send_window=opts["send_window"],
                send_days=opts["send_days"],
            )
        except TenantConfigError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Tenant {tenant.slug} created ({tenant.name})."))
