"""A tiny run of bench_import: a CSV through the import and a list through the API."""

import json

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_bench_import_reports_both_figures(capsys):
    call_command("bench_import", "--rows", "60", "--api-invoices", "5", "--json")
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["rows"] == 60 and result["import_seconds"] > 0
    assert result["imported"] == 60
    assert result["api_invoices"] == 5 and result["api_seconds"] > 0
    assert result["import_reference_check_only_seconds"] >= 0
