"""CSV files people open in a spreadsheet: a cell that starts like a formula (`=`, `+`, `-`,
`@`, a tab or a carriage return) is run by Excel or LibreOffice. Debtors write some of the text
Régua exports (replies, notes on a payment claim), so such a cell gets a leading apostrophe,
which spreadsheets read as "this is text". Numbers, negative ones included, are left alone."""

import re

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+([.,]\d+)?")


def cell_safe(value):
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def row_safe(row) -> list:
    return [cell_safe(value) for value in row]
