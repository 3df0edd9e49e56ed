"""How the domain plugs into messaging without messaging importing it.

The domain registers a *context provider* (the flat variables a message's template renders
with, read at send time so amounts are current) and a *send guard* (a reason to cancel a
queued message, e.g. the invoice was paid meanwhile). Status changes go out through the
`message_status_changed` signal, refused contacts through `contact_refused`."""

from collections.abc import Callable

from django.dispatch import Signal

# sender=Message, changes=[(message, old_status, new_status), …]: one signal per batch of moves.
message_status_changed = Signal()
# A provider refused the message's recipient for good: an invalid number or mailbox (`opt_out`
# False), or the recipient's own opt-out at the provider, e.g. STOP (`opt_out` True).
contact_refused = Signal()  # sender=Message, message=, reason=, opt_out=
# A customer wrote to one of the tenant's numbers; sent once per provider message.
inbound_received = Signal()  # sender=InboundMessage, inbound=
# A person checked the provider for a message whose outcome was unknown and settled it
# (`messaging.attention`): sent after the `message_status_changed` of the same move.
message_resolved = Signal()  # sender=Message, message=, actor=, from_status=, to_status=
# A message's send outcome is unknown and its provider cannot settle it (no lookup, a failed
# one, or a second "never received"): a person must check and decide. Sent once per message.
message_needs_attention = Signal()  # sender=Message, message=, reason=

_context_provider: Callable | None = None
_send_guard: Callable | None = None
_prefetch: Callable | None = None
_variables: dict[str, tuple[str, str]] = {}
_preview_provider: Callable | None = None
_claim_condition: Callable | None = None


def register(
    *,
    context_provider: Callable,
    send_guard: Callable,
    variables: dict[str, tuple[str, str]] | None = None,
    prefetch: Callable | None = None,
    preview_provider: Callable | None = None,
    claim_condition: Callable | None = None,
) -> None:
    """`variables` is the documented registry templates are written against:
    name → (description, sample value). `prefetch(messages)`, if given, is called once for a
    send batch before the guard and the context of each message, to read what they need
    for the whole batch at once. `preview_provider(tenant)`, if given, returns the values a
    template editor previews with for that tenant (its name, one of its own invoices), or {}
    for the samples.

    `claim_condition(tenant)`, if given, returns a Q over Message that holds for the messages
    the domain still lets leave (the send guard's rule, in SQL): it is part of the claim's
    conditional UPDATE, so a stop committed before the claim always stops the message."""
    global _context_provider, _send_guard, _variables, _prefetch, _preview_provider
    global _claim_condition
    _context_provider, _send_guard, _prefetch = context_provider, send_guard, prefetch
    _preview_provider, _claim_condition = preview_provider, claim_condition
    _variables = dict(variables or {})


def template_variables() -> dict[str, tuple[str, str]]:
    return _variables


def preview_values(tenant) -> dict:
    """The tenant's own values for a template preview ({} when there are none)."""
    if _preview_provider is None or tenant is None:
        return {}
    return _preview_provider(tenant)


def message_context(message) -> dict:
    if _context_provider is None:
        return {}
    return _context_provider(message)


def messages_prefetch(messages: list) -> None:
    if _prefetch is not None and messages:
        _prefetch(messages)


def message_cancel_reason(message) -> str | None:
    if _send_guard is None:
        return None
    return _send_guard(message)


def claim_condition(tenant):
    """The domain's SQL condition for a claim (a Q over Message), or None."""
    if _claim_condition is None:
        return None
    return _claim_condition(tenant)
