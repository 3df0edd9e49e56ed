"""A status column is not a disputed flag: its words may mark an invoice disputed, never clear
a dispute an agent set in Régua; a baixa (often a write-off) is not a payment."""

import pytest
from django_scopes import scope

from collections_app.imports.importer import guess_mapping, invoices_import, read_table
from collections_app.models import Invoice, Payment

pytestmark = pytest.mark.django_db

HEADER = "Código;Código cliente;Cliente;Valor;Emissão;Vencimento;Status"


def run(tenant, *lines, header=HEADER):
    headers, rows = read_table("s.csv", "\n".join([header, *lines]).encode())
    with scope(tenant=tenant):
        return headers, invoices_import(
            tenant=tenant,
            headers=headers,
            rows=rows,
            mapping=guess_mapping(headers),
            date_format="dmy",
        )


@pytest.mark.clock("2026-12-02T12:00-03:00")
def test_a_status_word_never_clears_a_dispute(tenant_a):
    line = "S-{n};C-1;Ana;100,00;01/11/2026;30/11/2026;{status}"
    run(tenant_a, line.format(n=1, status="Contestada"), line.format(n=2, status="Em aberto"))
    with scope(tenant=tenant_a):
        assert Invoice.objects.get(external_id="S-1").disputed
        Invoice.objects.filter(external_id="S-2").update(disputed=True)  # an agent's dispute
    _headers, result = run(
        tenant_a, line.format(n=1, status="Vencido"), line.format(n=2, status="Em aberto")
    )
    assert result.errors == [] and result.imported == 2
    with scope(tenant=tenant_a):
        assert all(Invoice.objects.values_list("disputed", flat=True))


@pytest.mark.clock("2026-12-02T12:00-03:00")
def test_a_baixa_is_not_a_payment(tenant_a):
    header = HEADER + ";Data da baixa"
    headers, result = run(
        tenant_a, "S-1;C-1;Ana;100,00;01/11/2026;30/11/2026;Baixado;25/11/2026", header=header
    )
    assert "paid_date" not in guess_mapping(headers)
    assert result.errors == [] and result.imported == 1 and result.payments == 0
    with scope(tenant=tenant_a):
        assert Payment.objects.count() == 0 and not Invoice.objects.get().disputed
