"""Brazilian taxpayer numbers (CPF and CNPJ, the alphanumeric CNPJ included), as the domain
uses them. The pure rules live in `tenants.documents`, which the tenants' Pix key needs too
(tenants imports nothing from here); this module keeps the names the domain imports."""

from tenants.documents import (
    MAX_TYPED,
    cnpj_check_digits,
    cpf_check_digits,
    document_clean,
    document_kind,
    document_normalize,
    is_cpf,
)

__all__ = [
    "MAX_TYPED",
    "cnpj_check_digits",
    "cpf_check_digits",
    "document_clean",
    "document_kind",
    "document_normalize",
    "is_cpf",
]
