"""A tiny smoke run of the evaluation benchmark (the full run is out of CI: see
docs/benchmarks.md)."""

import json

import pytest
from django.core.management import call_command
from django.db import connection
from django_scopes import scopes_disabled

from collections_app.engine import evaluate
from collections_app.models import Dispatch, Invoice
from messaging.models import Message
from tenants.models import Tenant

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_bench_builds_the_portfolio_and_matches_the_sql_bound(capsys):
    call_command(
        "bench_ladders", "--tenants", "3", "--invoices", "900", "--date", "2026-12-02", "--json"
    )
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["invoices"] == 900 and result["open"] == 720
    assert result["created"] > 0
    # The engine and the one-statement bound select the same (invoice × step) pairs.
    assert result["created"] == result["sql_bound_rows"]
    assert result["seconds"] > 0 and result["sql_bound_seconds"] > 0
    assert result["ratio"] > 1  # the bound is a bound
    with scopes_disabled():
        tenants = Tenant.objects.filter(slug__startswith=result["tenant_prefix"])
        assert tenants.count() == 3
        assert Invoice.objects.filter(tenant__in=tenants).count() == 900
        assert Dispatch.objects.filter(tenant__in=tenants).count() == result["created"]

    # The next day evaluates on the same data, adding only that day's steps.
    call_command("run_ladders", "--date", "2026-12-03", "--json")
    following = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert following["created"] > 0
    with scopes_disabled():
        assert Dispatch.objects.filter(tenant__in=tenants).count() == (
            result["created"] + following["created"]
        )


def test_batches_evaluated_on_two_workers_match_one_worker(monkeypatch, capsys):
    """Single-tenant batches on two threads, each with its own connection and transaction,
    write exactly what one worker writes, and every tenant is marked evaluated. SQLite has one
    writer: there the command says so and evaluates the batches in turn, with the same result."""

    monkeypatch.setattr(evaluate, "BATCH_TENANTS", 1)
    runs, notes = {}, {}
    for workers in (1, 2):
        call_command(
            "bench_ladders",
            *("--tenants", "4", "--invoices", "1200", "--date", "2026-12-02"),
            *("--workers", str(workers), "--json"),
        )
        out, err = capsys.readouterr()
        runs[workers], notes[workers] = json.loads(out.strip().splitlines()[-1]), err
    one, two = runs[1], runs[2]
    assert notes[1] == ""
    if connection.vendor == "postgresql":
        assert two["workers"] == 2 and notes[2] == ""
    else:
        assert two["workers"] == 1
        assert "SQLite) has one writer" in notes[2] and "one after another" in notes[2]
    for key in ("created", "messages", "tasks", "sql_bound_rows"):
        assert one[key] == two[key] > 0
    with scopes_disabled():
        for result in (one, two):
            tenants = Tenant.objects.filter(slug__startswith=result["tenant_prefix"])
            assert {t.last_evaluated_on.isoformat() for t in tenants} == {"2026-12-02"}
            assert Dispatch.objects.filter(tenant__in=tenants).count() == result["created"]
            assert Message.objects.filter(tenant__in=tenants).count() == result["messages"]
