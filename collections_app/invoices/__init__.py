"""Customers and invoices: the writes that create and change them, and the segments."""
