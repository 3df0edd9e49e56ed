from django.dispatch import Signal

# Sent inside the creating transaction with `tenant`; the domain installs its defaults
# (default ladder, templates) so every new tenant works at once.
tenant_created = Signal()
