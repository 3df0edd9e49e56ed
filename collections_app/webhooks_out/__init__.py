"""Outbound webhooks: the tenant's URLs hear about invoices and messages."""
