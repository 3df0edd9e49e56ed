"""What a tenant's template may cost to render, so a few characters of template cannot tie up a
worker: the sandbox the templates run in, and the counts every render is held to.

Deterministic limits come first, so a template behaves the same at save time and at send time:
the rendered text (MAX_OUTPUT characters), any one value built on the way (MAX_VALUE), the
characters all the operations build or scan together (MAX_WORK), loop iterations, macro calls
and filter applications (MAX_STEPS), how deep macros call each other (MAX_DEPTH). Sizes that an
argument decides (`center(10**9)`, `"%999999999s"`, `indent`, `replace`, `join`…) are checked
before the text is built. A wall-clock deadline (MAX_SECONDS) is only a backstop.

Loops, comparisons, `~` and literals are instrumented in the compiled code; filters, tests,
operators, calls and buffer joins go through the environment. Only macros can be called."""

import contextvars
import re
import time
from collections.abc import Iterator

from django.utils.translation import gettext as _
from jinja2 import nodes, pass_context
from jinja2.compiler import CodeGenerator
from jinja2.exceptions import SecurityError
from jinja2.runtime import BlockReference, LoopContext, Macro
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import _PassArg
from jinja2.visitor import NodeTransformer

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

_budget_var: contextvars.ContextVar["_Budget | None"] = contextvars.ContextVar(
    "regua_template_budget", default=None
)


class TemplateLimitError(SecurityError):
    """A template that went over one of the limits; the message says which."""


class _Budget:
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
            raise _too_long()
        self.spend(size)
        return value


def _budget() -> _Budget:
    budget = _budget_var.get()
    if budget is None:
        raise RuntimeError("Tenant templates render through render_limited().")
    return budget


def number_too_large() -> TemplateLimitError:
    return TemplateLimitError(_("A number in the template is too large."))


def _too_long() -> TemplateLimitError:
    return TemplateLimitError(
        _("A value in the template would be longer than %(max)d characters.") % {"max": MAX_VALUE}
    )


class _Counted(Iterator):
    """An iterator that spends a step per item: loops and lazy filters (`map`, `select`,
    `batch`…) cannot go on for longer than the budget."""

    __slots__ = ("_items", "_budget")

    def __init__(self, items, budget: _Budget):
        self._items = iter(items)
        self._budget = budget

    def __next__(self):
        item = next(self._items)
        self._budget.step()
        return item


def render_limited(template, context: dict) -> str:
    """Render a template of the LimitedEnvironment within the limits, streaming: the text is
    never built past MAX_OUTPUT characters."""
    budget = _Budget()
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


# -- Filters and tests: a step each, their arguments' size spent, their result checked, and
# the sizes an argument decides checked before anything is built.

_FORMAT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?[a-zA-Z%]")


def _format_size(budget: _Budget, text: str, args) -> int:
    """An upper bound of `text % args` in characters: widths and precisions count in full."""
    size = len(text) + budget.size(args)
    star = False
    for spec in _FORMAT_SPEC.finditer(text):
        for number in spec.groups():
            if number == "*":
                star = True
            elif number:
                size += int(number) if len(number) < 8 else MAX_VALUE + 1
    if star:
        values = args if isinstance(args, tuple | list) else (args,)
        size += sum(abs(v) for v in values if isinstance(v, int))
    return size


def _check_format(budget: _Budget, text, args) -> None:
    if isinstance(text, str) and _format_size(budget, text, args) > MAX_VALUE:
        raise _too_long()


def _text(value) -> str:
    return value if isinstance(value, str) else str(value)


def _pre_center(budget, value, width=80):
    if isinstance(width, int) and width > MAX_VALUE:
        raise _too_long()
    return value


def _pre_indent(budget, s, width=4, first=False, blank=False):
    step = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    if len(_text(s)) + (_text(s).count("\n") + 2) * step > MAX_VALUE:
        raise _too_long()
    return s


def _pre_wordwrap(
    budget, s, width=79, break_long_words=True, wrapstring=None, break_on_hyphens=True
):
    text, width = _text(s), width if isinstance(width, int) and width > 0 else 1
    lines = 2 * len(text) // width + text.count("\n") + 2
    if len(text) + lines * len(_text(wrapstring or "\n")) > MAX_VALUE:
        raise _too_long()
    if break_long_words and len(text) > width:
        budget.spend(len(text) * len(text) // width)  # textwrap cuts long words one by one
    return s


def _pre_format(budget, value, *args, **kwargs):
    _check_format(budget, _text(value), kwargs or args)
    return value


def _pre_replace(budget, s, old, new, count=None):
    text, old, new = _text(s), _text(old), _text(new)
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    if len(text) + found * max(0, len(new) - len(old)) > MAX_VALUE:
        raise _too_long()
    return s


def _pre_join(budget, value, d="", attribute=None):
    items = value if isinstance(value, list | tuple) else list(value)
    if budget.size(items) + len(items) * len(_text(d)) > MAX_VALUE:
        raise _too_long()
    return items


def _pre_batch(budget, value, linecount, fill_with=None):
    if fill_with is not None and isinstance(linecount, int) and linecount > MAX_REPEAT:
        raise _too_long()
    return value


def _pre_urlize(
    budget, value, trim_url_limit=None, nofollow=False, target=None, rel=None, extra_schemes=None
):
    text = _text(value)
    links = len(text.split()) + 1
    extra = len(_text(target or "")) + len(_text(rel or "")) + 64
    if 3 * len(text) + links * extra > MAX_VALUE:
        raise _too_long()
    return value


def _pre_tojson(budget, value, indent=None):
    step = len(indent) if isinstance(indent, str) else indent if isinstance(indent, int) else 0
    if (budget.size(value) + 1) * (step + 1) > MAX_VALUE:
        raise _too_long()
    return value


def _pre_trim(budget, value, chars=None):
    if chars is not None:
        budget.spend(len(_text(value)) * len(_text(chars)))  # each stripped character looks
    return value  # through `chars`


def _pre_sum(budget, iterable, attribute=None, start=0):
    if not isinstance(start, int | float):
        # Adding up lists copies them over and over.
        items = iterable if isinstance(iterable, list | tuple) else list(iterable)
        budget.spend(len(items) * (budget.size(items) + budget.size(start)))
        return items
    return iterable


_PRE_CHECKS = {
    "center": _pre_center,
    "indent": _pre_indent,
    "wordwrap": _pre_wordwrap,
    "format": _pre_format,
    "replace": _pre_replace,
    "join": _pre_join,
    "batch": _pre_batch,
    "urlize": _pre_urlize,
    "tojson": _pre_tojson,
    "trim": _pre_trim,
    "sum": _pre_sum,
}


def _limited(func, pre_check=None, *, result_checked: bool = True):
    """`func` (a filter or a test) within the render's budget. The wrapper takes the context,
    which also keeps Jinja from running it at compile time, outside any budget."""
    passes = _PassArg.from_obj(func)

    @pass_context
    def limited(context, value, *args, **kwargs):
        budget = _budget()
        budget.step()
        budget.spend(
            budget.size(value)
            + sum(map(budget.size, args))
            + sum(map(budget.size, kwargs.values()))
        )
        if isinstance(value, Iterator) and not isinstance(value, _Counted):
            value = _Counted(value, budget)
        if pre_check is not None:
            value = pre_check(budget, value, *args, **kwargs)
        if passes is _PassArg.context:
            result = func(context, value, *args, **kwargs)
        elif passes is _PassArg.eval_context:
            result = func(context.eval_ctx, value, *args, **kwargs)
        elif passes is _PassArg.environment:
            result = func(context.environment, value, *args, **kwargs)
        else:
            result = func(value, *args, **kwargs)
        if isinstance(result, Iterator):
            return result if isinstance(result, _Counted) else _Counted(result, budget)
        return budget.checked(result) if result_checked else result

    return limited


# -- The compiled code: each loop's iterable counted, comparisons' operands and `~`'s parts
# spent, literals and `~`'s result checked.


class _Instrument(NodeTransformer):
    """Passes expressions through the environment's `limit:<check>` filters (names a template
    cannot write), which Jinja compiles to direct calls."""

    def _guard(self, check: str, node: nodes.Expr) -> nodes.Filter:
        return nodes.Filter(node, f"limit:{check}", [], [], None, None, lineno=node.lineno)

    def visit_For(self, node: nodes.For) -> nodes.For:
        node = self.generic_visit(node)
        node.iter = self._guard("iter", node.iter)
        return node

    def visit_Compare(self, node: nodes.Compare) -> nodes.Compare:
        node = self.generic_visit(node)
        node.expr = self._guard("spend", node.expr)
        for operand in node.ops:
            operand.expr = self._guard("spend", operand.expr)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Filter:
        node = self.generic_visit(node)
        node.nodes = [self._guard("spend", part) for part in node.nodes]
        return self._guard("value", node)

    def _literal(self, node: nodes.Expr) -> nodes.Expr:
        node = self.generic_visit(node)
        return node if getattr(node, "ctx", "load") != "load" else self._guard("value", node)

    visit_List = visit_Tuple = visit_Dict = _literal


class _LimitedCodeGenerator(CodeGenerator):
    def visit_Template(self, node: nodes.Template, frame=None) -> None:
        super().visit_Template(_Instrument().visit(node), frame)


@pass_context
def _limit_iter(context, iterable) -> _Counted:
    return iterable if isinstance(iterable, _Counted) else _Counted(iterable, _budget())


@pass_context
def _limit_spend(context, value):
    budget = _budget()
    budget.spend(budget.size(value))
    return value


@pass_context
def _limit_value(context, value):
    return _budget().checked(value)


class LimitedEnvironment(SandboxedEnvironment):
    """The sandbox without the ways a few characters of template could use up a server's
    memory or time: no globals (`range`, `lipsum`… are not registry variables either, so the
    check refuses them), no `**`, `*` repeating a text or list only up to MAX_REPEAT, and every
    render held to the limits above."""

    code_generator_class = _LimitedCodeGenerator
    intercepted_binops = frozenset({"+", "*", "%", "**"})

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.globals.clear()
        self.filters = {
            name: _limited(func, _PRE_CHECKS.get(name)) for name, func in self.filters.items()
        }
        self.filters.update(
            {"limit:iter": _limit_iter, "limit:spend": _limit_spend, "limit:value": _limit_value}
        )
        self.tests = {
            name: _limited(func, result_checked=False) for name, func in self.tests.items()
        }

    def call_binop(self, context, operator, left, right):
        if operator == "**":
            raise SecurityError(_("Powers (**) are not allowed in templates."))
        budget = _budget()
        budget.step()
        budget.spend(budget.size(left) + budget.size(right))
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int):
                    if len(seq) * times > MAX_REPEAT:
                        raise SecurityError(
                            _("A repetition (*) may give at most %(max)d characters.")
                            % {"max": MAX_REPEAT}
                        )
                    if budget.size(seq) * times > MAX_VALUE:
                        raise _too_long()
            if isinstance(left, int) and isinstance(right, int):
                if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                    raise number_too_large()
        elif operator == "%":
            _check_format(budget, left, right)
        return budget.checked(super().call_binop(context, operator, left, right))

    def call(self, context, obj, /, *args, **kwargs):
        """Only macros (with `caller` and a recursive loop's `loop`) can be called: the values
        are text, and a method reached some other way (`attr`) must not run."""
        if not isinstance(obj, Macro | LoopContext | BlockReference):
            raise SecurityError(_("Only macros can be called in templates."))
        budget = _budget()
        budget.step(CALL_STEPS)
        if isinstance(obj, LoopContext) and args:
            args = (_limit_iter(context, args[0]), *args[1:])
        if budget.depth >= MAX_DEPTH:
            raise TemplateLimitError(
                _("Macros may call each other at most %(max)d levels deep.") % {"max": MAX_DEPTH}
            )
        budget.depth += 1
        try:
            return super().call(context, obj, *args, **kwargs)
        finally:
            budget.depth -= 1

    def concat(self, parts) -> str:
        """Joins the output of a macro, a `{% set %}` or `{% filter %}` block: checked first."""
        parts = parts if isinstance(parts, list) else list(parts)
        size = sum(map(len, parts))
        if size > MAX_VALUE:
            raise _too_long()
        _budget().spend(size)
        return "".join(parts)


def bracket_depth(env: LimitedEnvironment, source: str) -> int:
    """How deep the source's brackets nest, from its tokens: the parser recurses on them."""
    depth = deepest = 0
    for token in env.lexer.tokenize(source):
        if token.type in ("lparen", "lbracket", "lbrace"):
            depth += 1
            deepest = max(deepest, depth)
        elif token.type in ("rparen", "rbracket", "rbrace"):
            depth -= 1
    return deepest


def tree_depth(ast: nodes.Node) -> int:
    """How deep the syntax tree nests, walked without recursion."""
    deepest, todo = 0, [(ast, 1)]
    while todo:
        node, depth = todo.pop()
        deepest = max(deepest, depth)
        todo.extend((child, depth + 1) for child in node.iter_child_nodes())
    return deepest
