"""How the domain plugs into messaging without messaging importing it.

The domain registers a *context provider* (the flat variables a message's template renders
with, read at send time so amounts are current) and a *send guard* (a reason to cancel a
queued message, e.g. the invoice was paid meanwhile). Status changes go out through the
`message_status_changed` signal, refused contacts through `contact_refused`."""

from collections.abc import Callable

from django.dispatch import Signal

message_status_changed = Signal()  # sender=Message, message=, old_status=, new_status=
# A provider refused the message's recipient for good: an invalid number or mailbox (`opt_out`
# False), or the recipient's own opt-out at the provider, e.g. STOP (`opt_out` True).
contact_refused = Signal()  # sender=Message, message=, reason=, opt_out=
# A customer wrote to one of the tenant's numbers; sent once per provider message.
inbound_received = Signal()  # sender=InboundMessage, inbound=

_context_provider: Callable | None = None
_send_guard: Callable | None = None
_variables: dict[str, tuple[str, str]] = {}


def register(
    *,
    context_provider: Callable,
    send_guard: Callable,
    variables: dict[str, tuple[str, str]] | None = None,
) -> None:
    """`variables` is the documented registry templates are written against:
    name → (description, sample value)."""
    global _context_provider, _send_guard, _variables
    _context_provider, _send_guard = context_provider, send_guard
    _variables = dict(variables or {})


def template_variables() -> dict[str, tuple[str, str]]:
    return _variables


def message_context(message) -> dict:
    if _context_provider is None:
        return {}
    return _context_provider(message)


def message_cancel_reason(message) -> str | None:
    if _send_guard is None:
        return None
    return _send_guard(message)
