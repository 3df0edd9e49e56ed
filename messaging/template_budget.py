"""What a tenant's template may cost to render, so a few characters of template cannot tie up a
worker: the counts every render is held to, and the budget one render spends them from.

Deterministic limits come first, so a template behaves the same at save time and at send time:
the rendered text (MAX_OUTPUT characters), any one value built on the way (MAX_VALUE), the
characters all the operations build or scan together (MAX_WORK), loop iterations, macro calls
and filter applications (MAX_STEPS), how deep macros call each other (MAX_DEPTH). A wall-clock
deadline (MAX_SECONDS) is only a backstop. The filters (`template_filters`) and the sandbox
(`template_sandbox`) spend from the budget of the render in progress."""

import contextvars
import time
from collections.abc import Iterator

from django.utils.translation import gettext as _
from jinja2.exceptions import SecurityError

MAX_SOURCE = 65_536  # characters of template text
MAX_OUTPUT = 65_536  # characters of rendered text: no SMS, WhatsApp or e-mail body needs more
MAX_VALUE = MAX_OUTPUT  # characters (or items) in any one value built while rendering
MAX_REPEAT = 10_000  # the most text (or items) a `*` in a template may produce
MAX_WORK = 1_000_000  # characters built or scanned by all the operations of one render
MAX_STEPS = 100_000  # loop iterations, macro calls, filter and test applications
CALL_STEPS = 5  # a macro call costs as much as a few loop iterations
MAX_DEPTH = 20  # macros (and recursive loops) calling each other
MAX_NESTING = 20  # levels of the template's syntax tree, and of brackets
MAX_INT_BITS = 256  # a product of integers; no amount or count comes near
MAX_SECONDS = 2.0  # a backstop for work the counts do not see

_budget_var: contextvars.ContextVar["Budget | None"] = contextvars.ContextVar(
    "regua_template_budget", default=None
)


class TemplateLimitError(SecurityError):
    """A template that went over one of the limits; the message says which."""


class Budget:
    """What is left of one render's limits."""

    __slots__ = ("steps", "work", "depth", "deadline", "sizes")

    def __init__(self):
        self.steps = MAX_STEPS
        self.work = MAX_WORK
        self.depth = 0
        self.deadline = time.monotonic() + MAX_SECONDS
        self.sizes: dict[int, tuple[object, int]] = {}

    def step(self, count: int = 1) -> None:
        self.steps -= count
        if self.steps < 0:
            raise TemplateLimitError(
                _(
                    "The template repeats too much: loops, macro calls and filters may run at "
                    "most %(max)d times in all."
                )
                % {"max": MAX_STEPS}
            )
        self._in_time()

    def spend(self, chars: int) -> None:
        self.work -= chars
        if self.work < 0:
            raise TemplateLimitError(
                _("The template handles too much text: at most %(max)d characters in all.")
                % {"max": MAX_WORK}
            )
        self._in_time()

    def _in_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateLimitError(_("The template takes too long to render."))

    def size(self, value) -> int:
        """About how many characters the value prints as; containers are measured once (a
        list holding the same list twice counts it twice, as printing it would)."""
        if isinstance(value, str):
            return len(value)
        if not isinstance(value, list | tuple | dict | set | frozenset):
            return 1
        known = self.sizes.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        items = value.items() if isinstance(value, dict) else value
        if isinstance(value, dict):
            size = len(value) + sum(self.size(k) + self.size(v) for k, v in items)
        else:
            size = len(value) + sum(self.size(item) for item in items)
        self.sizes[id(value)] = (value, size)  # the reference keeps the id from being reused
        return size

    def checked(self, value):
        """The value, if it is not over MAX_VALUE; what it cost is spent."""
        size = self.size(value)
        if size > MAX_VALUE:
            raise too_long()
        self.spend(size)
        return value


def current_budget() -> Budget:
    budget = _budget_var.get()
    if budget is None:
        raise RuntimeError("Tenant templates render through render_limited().")
    return budget


def number_too_large() -> TemplateLimitError:
    return TemplateLimitError(_("A number in the template is too large."))


def too_long() -> TemplateLimitError:
    return TemplateLimitError(
        _("A value in the template would be longer than %(max)d characters.") % {"max": MAX_VALUE}
    )


class Counted(Iterator):
    """An iterator that spends a step per item: loops and lazy filters (`map`, `select`,
    `batch`…) cannot go on for longer than the budget."""

    __slots__ = ("_items", "_budget")

    def __init__(self, items, budget: Budget):
        self._items = iter(items)
        self._budget = budget

    def __next__(self):
        item = next(self._items)
        self._budget.step()
        return item


def render_limited(template, context: dict) -> str:
    """Render a template of the LimitedEnvironment within the limits, streaming: the text is
    never built past MAX_OUTPUT characters."""
    budget = Budget()
    token = _budget_var.set(budget)
    try:
        parts, length = [], 0
        for part in template.generate(context):
            length += len(part)
            if length > MAX_OUTPUT:
                raise TemplateLimitError(
                    _("The text would be longer than %(max)d characters.") % {"max": MAX_OUTPUT}
                )
            budget.spend(len(part))
            parts.append(part)
        return "".join(parts)
    finally:
        _budget_var.reset(token)
