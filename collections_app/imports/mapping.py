"""Which column of a spreadsheet holds each of Régua's fields.

`guess_mapping` proposes one from the headers' words — Portuguese or English, with or without
accents, camelCase or not (invoiceNumber, "Data de vencimento", customerID). One column may
feed several fields of one kind: a file without an invoice id uses its number for both, one
without customer names the customer's code. `mapping_problems` says, in words, what keeps a
mapping from being used: a required field left out, fields of different kinds from one column
(naming them), a date column whose order has to be chosen (`date_columns`, with the two
readings of one of its values)."""

import re
import unicodedata

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from collections_app.imports.column_formats import (
    AUTO,
    DATE_FORMATS,
    ambiguous_example,
    column_order,
    detected_order,
    is_ambiguous,
    long_date,
    read_date,
)

# Régua's fields: name → (label, required).
FIELDS: dict[str, tuple[str, bool]] = {
    "external_id": (gettext_lazy("Invoice id in your system"), True),
    "number": (gettext_lazy("Invoice number"), False),
    "amount": (gettext_lazy("Amount"), True),
    "issue_date": (gettext_lazy("Issue date"), True),
    "due_date": (gettext_lazy("Due date"), True),
    "description": (gettext_lazy("Description"), False),
    "boleto_line": (gettext_lazy("Boleto line"), False),
    "bank_reference": (gettext_lazy("Nosso número"), False),
    "customer_external_id": (gettext_lazy("Customer id in your system"), True),
    "customer_name": (gettext_lazy("Customer name"), True),
    "customer_document": (gettext_lazy("CPF/CNPJ"), False),
    "customer_email": (gettext_lazy("E-mail"), False),
    "customer_phone": (gettext_lazy("Phone"), False),
    "customer_whatsapp": (gettext_lazy("WhatsApp"), False),
    "paid_date": (gettext_lazy("Paid date"), False),
    # What the file says has been paid on the invoice in total (`import_payments`).
    "paid_amount": (gettext_lazy("Paid amount (total so far)"), False),
    "disputed": (gettext_lazy("Disputed"), False),
}
DATE_FIELDS = ("issue_date", "due_date", "paid_date")
AMOUNT_FIELDS = ("amount", "paid_amount")
# What a typed field's values are. A column can feed fields of one kind only (a column of
# dates is not also the amount); any column can also feed the fields read as plain text.
KINDS = {
    **dict.fromkeys(DATE_FIELDS, "date"),
    **dict.fromkeys(AMOUNT_FIELDS, "amount"),
    "customer_document": "document",
    "customer_email": "email",
    "customer_phone": "phone",
    "customer_whatsapp": "phone",
    "disputed": "flag",
}
# Header words (see `_plain`) that usually name each field, the likeliest first.
ALIASES: dict[str, tuple[str, ...]] = {
    name: tuple(words.split(", "))
    for name, words in {
        "external_id": (
            "id, id fatura, id da fatura, invoice id, codigo, codigo fatura, codigo da fatura, "
            "external id, documento fiscal"
        ),
        "number": (
            "numero, invoice number, numero fatura, numero da fatura, n fatura, no fatura, nf, "
            "nota, nota fiscal, fatura, titulo, numero do titulo, invoice, invoice no, number"
        ),
        "amount": (
            "valor, valor original, valor da fatura, valor fatura, valor do titulo, valor total, "
            "amount, invoice amount, total"
        ),
        "issue_date": (
            "emissao, data emissao, data de emissao, data da fatura, issue date, invoice date"
        ),
        "due_date": "vencimento, data vencimento, data de vencimento, due date, due, vence",
        "description": "descricao, historico, description",
        "boleto_line": "linha digitavel, boleto",
        "bank_reference": "nosso numero",
        "customer_external_id": (
            "codigo cliente, codigo do cliente, cod cliente, id cliente, id do cliente, "
            "cliente id, customer id, customer code, customer number, client id"
        ),
        "customer_name": (
            "cliente, nome, nome cliente, nome do cliente, razao social, sacado, customer, "
            "customer name, client, name"
        ),
        "customer_document": "cpf cnpj, cpf, cnpj, documento, document",
        "customer_email": "email, e mail",
        "customer_phone": "telefone, celular, fone, phone, mobile",
        "customer_whatsapp": "whatsapp, whats app",
        "paid_date": (
            "data de pagamento, data pagamento, data do pagamento, pago em, pagamento, "
            "data de liquidacao, paid date, payment date, settled date, "
            "settlement date, date paid, paid on"
        ),
        "paid_amount": "valor pago, valor recebido, paid amount, amount paid, payment amount",
        "disputed": "contestada, contestado, em disputa, disputed, dispute, status, situacao",
    }.items()
}


def _plain(text: str) -> str:
    """A header as words: no accents, camelCase split, lower case (invoiceNumber, Nº Fatura,
    "Data de Vencimento" → "invoice number", "no fatura", "data de vencimento")."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", text)
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def guess_mapping(headers: list[str]) -> dict[str, int]:
    """Régua's field → the column it is probably in, from the headers' words. A file without
    an invoice id uses its number; one without customer names, the customer's code."""
    mapping: dict[str, int] = {}
    plain = [_plain(h) for h in headers]
    for name, aliases in ALIASES.items():
        for alias in (name.replace("_", " "), *aliases):
            index = next(
                (i for i, h in enumerate(plain) if h == alias and i not in mapping.values()), None
            )
            if index is not None:
                mapping[name] = index
                break
    if "external_id" not in mapping and "number" in mapping:
        mapping["external_id"] = mapping["number"]
    if "customer_name" not in mapping and "customer_external_id" in mapping:
        mapping["customer_name"] = mapping["customer_external_id"]
    return mapping


def _header(headers: list[str] | None, index: int) -> str:
    if headers and 0 <= index < len(headers):
        return headers[index] or str(index + 1)
    return str(index + 1)


def mapping_field_problems(
    mapping: dict[str, int],
    *,
    headers: list[str] | None = None,
    profiles: list[dict] | None = None,
    date_format: str = AUTO,
    ask_dates: bool = True,
) -> list[tuple[str, str]]:
    """What keeps a mapping from being used, each as (what it concerns, the problem): ""
    for the whole mapping (required fields left out), a field's name for the second of two
    fields of different kinds from one column (named), "date_format" for a date format to
    choose (an ambiguous date column's is left out with `ask_dates=False`, for a page that
    asks with `date_columns`)."""
    problems = []
    missing = [str(label) for n, (label, req) in FIELDS.items() if req and n not in mapping]
    if missing:
        problems.append(
            (
                "",
                _("Choose a column for each required field: %(fields)s.")
                % {"fields": ", ".join(missing)},
            )
        )
    by_column: dict[int, list[str]] = {}
    for name, index in mapping.items():
        by_column.setdefault(index, []).append(name)
    for index, names in sorted(by_column.items()):
        typed = [name for name in names if name in KINDS]
        clash = next((n for n in typed if KINDS[n] != KINDS[typed[0]]), None)
        if clash:
            problems.append(
                (
                    clash,
                    _(
                        "“%(first)s” and “%(second)s” cannot come from the same column "
                        "(“%(column)s”)."
                    )
                    % {
                        "first": FIELDS[typed[0]][0],
                        "second": FIELDS[clash][0],
                        "column": _header(headers, index),
                    },
                )
            )
    if date_format not in DATE_FORMATS:
        problems.append(("date_format", _("Choose the date format.")))
    for column in date_columns(mapping, headers=headers, profiles=profiles, date_format=AUTO):
        if column["ambiguous"] and date_format == AUTO and ask_dates:
            problems.append(
                (
                    "date_format",
                    _(
                        "Every date in “%(column)s” can be read day first or month first "
                        "(%(value)s → %(day_first)s or %(month_first)s): choose the date format."
                    )
                    % {
                        "column": column["header"],
                        "value": column["example"],
                        "day_first": column["day_first"],
                        "month_first": column["month_first"],
                    },
                )
            )
    return problems


def mapping_problems(
    mapping: dict[str, int],
    *,
    headers: list[str] | None = None,
    profiles: list[dict] | None = None,
    date_format: str = AUTO,
    ask_dates: bool = True,
) -> list[str]:
    """What keeps a mapping from being used, in words (see `mapping_field_problems`)."""
    found = mapping_field_problems(
        mapping, headers=headers, profiles=profiles, date_format=date_format, ask_dates=ask_dates
    )
    return [problem for _concerns, problem in found]


def date_columns(
    mapping: dict[str, int],
    *,
    headers: list[str] | None,
    profiles: list[dict] | None,
    date_format: str,
) -> list[dict]:
    """Each column mapped to date fields, with how it is read: {"header", "fields" (labels),
    "order" (DMY/MDY/YMD; None: ambiguous, not chosen), "format" (its name), "detected" (read
    as its values show), "ambiguous" (they cannot show it), "example", "day_first",
    "month_first" (a value of an ambiguous column and its two readings, spelled out),
    "sample", "reading" (a value as it is read now)}."""
    out = []
    seen: dict[int, dict] = {}
    for name in DATE_FIELDS:
        index = mapping.get(name)
        if index is None:
            continue
        if index in seen:
            seen[index]["fields"].append(FIELDS[name][0])
            continue
        profile = profiles[index] if profiles and index < len(profiles) else {}
        order = column_order(profile, date_format)
        example = ambiguous_example(profile)
        examples = profile.get("examples", {})
        # A value that shows how the column is read: one only that order fits when the
        # column says it itself, one the chosen order decides when chosen.
        kinds = (order, "both") if date_format == AUTO else ("both", order)
        sample = next((examples[k] for k in (*kinds, "iso", "serial", "same") if k in examples), "")
        try:
            reading = long_date(read_date(sample, order)) if sample and order else ""
        except ValueError:
            reading = ""
        column = {
            "index": index,
            "header": _header(headers, index),
            "fields": [FIELDS[name][0]],
            "order": order,
            "format": DATE_FORMATS.get(order, ""),
            "detected": date_format == AUTO and detected_order(profile) is not None,
            "ambiguous": is_ambiguous(profile),
            "example": example[0] if example else "",
            "day_first": long_date(example[1]) if example else "",
            "month_first": long_date(example[2]) if example else "",
            "sample": sample,
            "reading": reading,
        }
        seen[index] = column
        out.append(column)
    return out
