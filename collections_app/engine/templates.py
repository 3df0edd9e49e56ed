"""The message templates the engine picks from: a template in the tenant's locale when it has
one, else one of any locale with the same key and channel."""

from collections import defaultdict

from messaging.models import Template
from tenants.models import Tenant


class GroupTemplates:
    """A group's templates: (tenant, key, channel) → (template id, subject), in the tenant's
    locale when it has one, else any; and per tenant the (key, channel) pairs it has. One
    query for the group."""

    def __init__(self, tenants: list[Tenant]):
        locale = {t.pk: t.locale for t in tenants}
        self.found: dict[tuple[int, str, str], tuple[int, str]] = {}
        self.keys: dict[int, set[tuple[str, str]]] = defaultdict(set)
        rows = Template.objects.filter(tenant_id__in=locale).values_list(
            "id", "tenant_id", "key", "channel", "locale", "subject"
        )
        for template_id, tenant_id, key, channel, template_locale, subject in rows:
            found_key = (tenant_id, key, channel)
            if template_locale == locale[tenant_id] or found_key not in self.found:
                self.found[found_key] = (template_id, subject)
            self.keys[tenant_id].add((key, channel))


def template_keys() -> set[tuple[str, str]]:
    """The (key, channel) pairs of the scoped tenant's templates, whatever their locale: the
    pairs the engine can send with."""
    return set(Template.objects.values_list("key", "channel"))
