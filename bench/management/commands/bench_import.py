"""Benchmark of getting invoices in: a CSV of N rows through the import (every row checked,
then written through the same service as the API), and `POST /api/v1/invoices/` with a list
of M invoices in one request. Each figure comes with a reference measured in the same run:
reading and checking the rows without writing them, for the import, and one invoice per
request, for the API."""

import json
import random
import secrets
import threading
import time
from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django_scopes import scope, scopes_disabled

from collections_app.imports.column_formats import columns_profile
from collections_app.imports.importer import guess_mapping, read_rules, read_table, row_check
from collections_app.imports.jobs import (
    import_job_create,
    import_job_run,
    import_job_start,
    import_progress,
)
from collections_app.models import ImportStatus
from tenants.services import api_key_create, tenant_create

HEADER = "Código;Número;Valor;Emissão;Vencimento;Código cliente;Cliente;CPF/CNPJ;E-mail;Celular"
CPFS = ["52998224725", "11144477735", "39053344705", "86288366757"]


def csv_rows(n: int, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    today = date.today()
    lines = [HEADER]
    customers = n // 10 + 1  # ten invoices per customer, spread over the file
    for k in range(n):
        due = today + timedelta(days=rng.randint(-90, 60))
        c = k % customers
        lines.append(
            f"INV-{k:07d};NF-{k:07d};{rng.randint(50, 99999)},{rng.randint(0, 99):02d};"
            f"{(due - timedelta(days=30)):%d/%m/%Y};{due:%d/%m/%Y};C-{c:06d};"
            f"Cliente {c};{CPFS[c % 4]};cliente{c}@exemplo.com.br;"
            f"(11) 9{1000 + c % 9000:04d}-{1000 + c // 9000 % 9000:04d}"
        )
    return ("\n".join(lines) + "\n").encode()


class Command(BaseCommand):
    help = "Time the CSV import of N rows and the API's bulk invoice upsert of M invoices."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=100_000)
        parser.add_argument("--api-invoices", type=int, default=1000)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        if opts["rows"] < 10 or opts["api_invoices"] < 1:
            raise CommandError("--rows must be at least 10 and --api-invoices at least 1")
        log = (lambda msg: None) if opts["json"] else (lambda msg: self.stdout.write(msg))
        slug = f"bench-import-{secrets.token_hex(3)}"
        with scopes_disabled():
            tenant = tenant_create(slug=slug, name=slug, owner_email=f"{slug}@bench.local")
        content = csv_rows(opts["rows"])
        with scope(tenant=tenant):
            # The reference: read and check every row, write nothing (a bad mapping
            # would show here as errors).
            ref_started = time.perf_counter()
            headers, rows = read_table("bench.csv", content)
            mapping = guess_mapping(headers)
            rules = read_rules(mapping, profiles=columns_profile(rows, len(headers)))
            checked = sum(1 for cells in rows if not row_check(cells, mapping, rules)[1])
            reference = time.perf_counter() - ref_started
            # The import as the dashboard runs it: the uploaded file becomes a job, started
            # with its proposed mapping; the job's body (the Celery task's) runs here while a
            # thread reads the progress the page's bar polls.
            started = time.perf_counter()
            job = import_job_create(tenant=tenant, filename="bench.csv", content=content)
            import_job_start(job=job, mapping=job.mapping, valid_only=False, enqueue=False)
            readings: list[tuple[float, int]] = []
            done = threading.Event()

            def sample() -> None:
                while not done.wait(0.5):
                    progress = import_progress(job) or {}
                    total = max(progress.get("total", 0), 1)
                    readings.append((time.perf_counter(), 100 * progress.get("done", 0) // total))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            job = import_job_run(job=job)
            done.set()
            sampler.join()
        seconds = time.perf_counter() - started
        if job.status != ImportStatus.DONE:
            raise CommandError(f"The import ended {job.status}: {job.failure}")
        percents = [p for _t, p in readings]
        moves = [t for (t, p), (_t0, p0) in zip(readings[1:], readings, strict=False) if p > p0]
        still = max(
            (b - a for a, b in zip([started, *moves], [*moves, started + seconds], strict=False)),
            default=seconds,
        )
        log(
            f"import: {job.imported} rows in {seconds:.1f} s ({checked} checked in "
            f"{reference:.1f} s); progress read every 0.5 s: "
            f"{' '.join(f'{p}%' for p in percents[:: max(1, len(percents) // 12)])} "
            f"(the bar never stood still more than {still:.1f} s)"
        )

        _key, raw = api_key_create(tenant=tenant, name="bench")
        client = Client(HTTP_AUTHORIZATION=f"Api-Key {raw}")
        n = opts["api_invoices"]

        def invoices(version: int) -> list[dict]:
            """N invoices of 200 customers, given in full; each version changes every
            invoice field and each customer's contacts."""
            return [
                {
                    "external_id": f"API-{k:06d}",
                    "number": f"NF-{k}-{version}",
                    "amount": f"{100 + k % 900 + version}.50",
                    "issue_date": f"2026-11-{1 + version:02d}",
                    "due_date": f"2026-12-{1 + version:02d}",
                    "description": f"Mensalidade {version}",
                    "customer": {
                        "external_id": f"AC-{k % 200}",
                        "name": f"Cliente API {k % 200}",
                        "email": f"financeiro{version}@cliente{k % 200}.com.br",
                        "phone": f"+55119{k % 200:04d}{1000 + version:04d}",
                        "document": CPFS[k % 4],
                    },
                }
                for k in range(n)
            ]

        def post(payload) -> float:
            began = time.perf_counter()
            answer = client.post(
                "/api/v1/invoices/", json.dumps(payload), content_type="application/json"
            )
            took = time.perf_counter() - began
            if answer.status_code not in (200, 201):
                raise CommandError(f"The API answered {answer.status_code}: {answer.content[:300]}")
            return took

        single = post(invoices(0)[0])  # the reference: one invoice in a request
        api_seconds = post(invoices(0))  # N new invoices (one was there already)
        api_update_seconds = post(invoices(1))  # the same N, every field changed
        log(
            f"API: {n} invoices in one request in {api_seconds:.2f} s (created), "
            f"{api_update_seconds:.2f} s (all changed); one invoice: {single:.3f} s"
        )
        summary = {
            "rows": opts["rows"],
            "imported": job.imported,
            "import_seconds": round(seconds, 2),
            "import_rows_per_second": round(job.imported / seconds, 0) if seconds else None,
            "import_target_seconds": 60,
            "import_reference_check_only_seconds": round(reference, 2),
            "progress_readings": len(readings),
            "progress_distinct_values": len(set(percents)),
            "progress_longest_still_seconds": round(still, 1),
            "api_invoices": n,
            "api_seconds": round(api_seconds, 3),
            "api_update_seconds": round(api_update_seconds, 3),
            "api_target_seconds": 2,
            "api_reference_one_invoice_seconds": round(single, 3),
            "database": connection.vendor,
            "tenant": slug,
        }
        self.stdout.write(json.dumps(summary))
