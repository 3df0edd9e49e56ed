"""The sandbox tenants' templates run in: Jinja's SandboxedEnvironment with every render held to
the limits of `template_budget`.

Loops, comparisons, `~` and literals are instrumented in the compiled code; filters, tests,
operators, calls and buffer joins go through the environment. Only macros can be called."""

from django.utils.translation import gettext as _
from jinja2 import nodes, pass_context
from jinja2.compiler import CodeGenerator
from jinja2.exceptions import SecurityError
from jinja2.runtime import BlockReference, LoopContext, Macro
from jinja2.sandbox import SandboxedEnvironment
from jinja2.visitor import NodeTransformer

from messaging.template_budget import (
    CALL_STEPS,
    MAX_DEPTH,
    MAX_INT_BITS,
    MAX_REPEAT,
    MAX_VALUE,
    Counted,
    TemplateLimitError,
    current_budget,
    number_too_large,
    too_long,
)
from messaging.template_filters import PRE_CHECKS, check_format, limited_filter

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
def _limit_iter(context, iterable) -> Counted:
    return iterable if isinstance(iterable, Counted) else Counted(iterable, current_budget())


@pass_context
def _limit_spend(context, value):
    budget = current_budget()
    budget.spend(budget.size(value))
    return value


@pass_context
def _limit_value(context, value):
    return current_budget().checked(value)


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
            name: limited_filter(func, PRE_CHECKS.get(name)) for name, func in self.filters.items()
        }
        self.filters.update(
            {"limit:iter": _limit_iter, "limit:spend": _limit_spend, "limit:value": _limit_value}
        )
        self.tests = {
            name: limited_filter(func, result_checked=False) for name, func in self.tests.items()
        }

    def call_binop(self, context, operator, left, right):
        if operator == "**":
            raise SecurityError(_("Powers (**) are not allowed in templates."))
        budget = current_budget()
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
                        raise too_long()
            if isinstance(left, int) and isinstance(right, int):
                if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                    raise number_too_large()
        elif operator == "%":
            check_format(budget, left, right)
        return budget.checked(super().call_binop(context, operator, left, right))

    def call(self, context, obj, /, *args, **kwargs):
        """Only macros (with `caller` and a recursive loop's `loop`) can be called: the values
        are text, and a method reached some other way (`attr`) must not run."""
        if not isinstance(obj, Macro | LoopContext | BlockReference):
            raise SecurityError(_("Only macros can be called in templates."))
        budget = current_budget()
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
            raise too_long()
        current_budget().spend(size)
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
