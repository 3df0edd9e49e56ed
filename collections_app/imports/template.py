"""The model spreadsheet offered on the upload page."""

import csv
import io

# A model spreadsheet for the upload page: headers the mapping recognises, and one example row.
TEMPLATE_ROWS = [
    [
        "Código",
        "Número",
        "Valor",
        "Emissão",
        "Vencimento",
        "Descrição",
        "Linha digitável",
        "Nosso número",
        "Código cliente",
        "Cliente",
        "CPF/CNPJ",
        "E-mail",
        "Celular",
        "WhatsApp",
        "Data de pagamento",
        "Valor pago",
        "Contestada",
    ],
    [
        "FAT-0001",
        "NF 1234",
        "1.234,50",
        "15/11/2026",
        "15/12/2026",
        "Mensalidade de novembro",
        "",
        "00012345",
        "CLI-001",
        "Maria Souza",
        "529.982.247-25",
        "maria@exemplo.com.br",
        "(11) 98765-4321",
        "(11) 98765-4321",
        "",
        "",
        "não",
    ],
]


def template_csv() -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows(TEMPLATE_ROWS)
    return out.getvalue()
