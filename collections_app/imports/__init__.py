"""Spreadsheet imports: invoices and payment history, with column mapping and format
detection."""
