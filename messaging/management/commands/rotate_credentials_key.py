from django.core.management.base import BaseCommand

from messaging.key_rotation import provider_accounts_rotate_keys


class Command(BaseCommand):
    help = (
        "Re-encrypt stored provider credentials with the first key of FIELD_ENCRYPTION_KEY "
        "(put the new key first, keep the old ones after it, run this, then drop the old keys)."
    )

    def handle(self, *args, **opts):
        count = provider_accounts_rotate_keys()
        self.stdout.write(self.style.SUCCESS(f"{count} provider account(s) re-encrypted."))
