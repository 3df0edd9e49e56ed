import json

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.dateparse import parse_date
from django_scopes import scope

from collections_app.engine.forecast import FORECAST_MAX_DAYS, tenant_forecast
from tenants.models import Tenant
from tenants.selectors import tenant_today


class Command(BaseCommand):
    help = (
        "Forecast the sends and tasks the daily evaluation would make per day, segment and "
        "channel if nothing changes (no payments foreseen). Writes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="slug of the tenant")
        parser.add_argument("--start", help="YYYY-MM-DD, the first day (default: tenant's today)")
        parser.add_argument(
            "--days", type=int, default=30, help=f"how many days, 1–{FORECAST_MAX_DAYS}"
        )
        parser.add_argument("--json", action="store_true", help="end with the JSON forecast")

    def handle(self, *args, **opts):
        tenant = Tenant.objects.filter(slug=opts["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {opts['tenant']!r}")
        start = tenant_today(tenant=tenant)
        if opts["start"]:
            start = parse_date(opts["start"]) if len(opts["start"]) == 10 else None
            if start is None:
                raise CommandError(f"--start {opts['start']!r} must be YYYY-MM-DD")
        if not 1 <= opts["days"] <= FORECAST_MAX_DAYS:
            raise CommandError(f"--days must be from 1 to {FORECAST_MAX_DAYS}")
        with scope(tenant=tenant):
            forecast = tenant_forecast(tenant=tenant, start=start, days=opts["days"])
        if opts["json"]:
            self.stdout.write(json.dumps(forecast, cls=DjangoJSONEncoder, ensure_ascii=False))
            return
        self.stdout.write(f"{tenant.slug}: forecast from {start} for {opts['days']} days")
        self.stdout.write(f"{'date':<12}{'messages':>9}{'tasks':>7}  channels / segments")
        for day in forecast["by_day"]:
            if not day["messages"] and not day["tasks"] and not day["skipped"]:
                continue
            channels = ", ".join(f"{c} {n}" for c, n in day["by_channel"].items()) or "-"
            segments = ", ".join(
                f"{s} {v['messages']}m/{v['tasks']}t" for s, v in day["by_segment"].items()
            )
            skipped = ", ".join(f"{r} {n}" for r, n in day["skipped"].items())
            line = f"{day['date']!s:<12}{day['messages']:>9}{day['tasks']:>7}  {channels}"
            if segments:
                line += f" | {segments}"
            if skipped:
                line += f" | skipped: {skipped}"
            self.stdout.write(line)
        totals = forecast["totals"]
        self.stdout.write(
            f"{'total':<12}{totals['messages']:>9}{totals['tasks']:>7}  "
            + (", ".join(f"{c} {n}" for c, n in totals["by_channel"].items()) or "-")
        )
