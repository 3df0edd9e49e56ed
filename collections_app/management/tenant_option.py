"""The `--tenant SLUG` option the maintenance commands share."""

from django.core.management.base import CommandError

from tenants.models import Tenant


def add_tenant_option(parser) -> None:
    parser.add_argument("--tenant", help="slug of one tenant (default: every tenant)")


def tenants_chosen(slug: str | None):
    """Every tenant in id order, or the one named; an unknown slug is a CommandError."""
    tenants = Tenant.objects.order_by("pk")
    if slug:
        tenants = tenants.filter(slug=slug)
        if not tenants.exists():
            raise CommandError(f"No tenant with slug {slug!r}")
    return tenants
