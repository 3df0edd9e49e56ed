import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date

from collections_app.engine import ladders_run
from collections_app.engine.evaluate import one_writer_note, parallel_workers
from tenants.models import Tenant
from tenants.selectors import tenant_today


class Command(BaseCommand):
    help = (
        "Evaluate the ladders now, as beat would. --date evaluates as if that day were today "
        "(catch-up covers only the days since the previous evaluation)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="slug of one tenant (default: all)")
        parser.add_argument("--date", help="YYYY-MM-DD, the day taken as today")
        parser.add_argument("--dry-run", action="store_true", help="plan only, write nothing")
        parser.add_argument("--json", action="store_true", help="end with a JSON summary line")
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="batches of tenants evaluated at once on PostgreSQL (default 1)",
        )

    def handle(self, *args, **opts):
        day = None
        if opts["date"]:
            day = parse_date(opts["date"]) if len(opts["date"]) == 10 else None
            if day is None:
                raise CommandError(f"--date {opts['date']!r} must be YYYY-MM-DD")
        if opts["tenant"] and not Tenant.objects.filter(slug=opts["tenant"]).exists():
            raise CommandError(f"No tenant with slug {opts['tenant']!r}")
        if parallel_workers(opts["workers"]) < opts["workers"]:
            self.stderr.write(one_writer_note(opts["workers"]))
        if day and not opts["dry_run"]:
            self._warn_other_day(day, opts["tenant"])
        results = ladders_run(
            today_for=(lambda t: day) if day else (lambda t: tenant_today(tenant=t)),
            tenant_slug=opts["tenant"],
            dry_run=opts["dry_run"],
            workers=opts["workers"],
        )
        skipped: dict[str, int] = {}
        for r in results:
            for reason, n in r.skipped.items():
                skipped[reason] = skipped.get(reason, 0) + n
            if not opts["json"]:
                self.stdout.write(
                    f"{r.tenant} {r.date}: {r.created} dispatches, {r.messages} messages, "
                    f"{r.tasks} tasks, skipped {dict(r.skipped) or '-'}"
                )
        summary = {
            "created": sum(r.created for r in results),
            "messages": sum(r.messages for r in results),
            "tasks": sum(r.tasks for r in results),
            "skipped": skipped,
            "dry_run": opts["dry_run"],
            "tenants": [r.as_dict() for r in results],
        }
        if opts["dry_run"]:
            summary["planned"] = [p for r in results for p in r.planned]
        if opts["json"]:
            self.stdout.write(json.dumps(summary, ensure_ascii=False))

    def _warn_other_day(self, day, slug: str | None) -> None:
        """--date sends for real: a day that is not the tenant's today would send messages
        dated for that day now (a future day's "vencida em 04/12" on 03/12)."""
        tenants = Tenant.objects.filter(slug=slug) if slug else Tenant.objects.all()
        todays = {t.slug: tenant_today(tenant=t) for t in tenants.only("slug", "timezone")}
        others = sorted(f"{s} ({d:%d/%m/%Y})" for s, d in todays.items() if d != day)
        if others:
            self.stderr.write(
                self.style.WARNING(
                    f"Warning: --date {day:%d/%m/%Y} is not today for "
                    f"{', '.join(others[:5])}{' …' if len(others) > 5 else ''}. "
                    "Messages are sent for real now, as if today were that day. "
                    "Use --dry-run to preview without sending."
                )
            )
