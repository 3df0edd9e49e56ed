"""Tenant-authored templates: Jinja2's SandboxedEnvironment over a flat context of prepared
values. Undefined variables are errors; so is any attribute or item access, since the context
holds only ready-to-print values — which also shuts the door on `{{ ''.__class__ }}` tricks."""

from collections.abc import Iterable
from functools import lru_cache

from django.utils.translation import gettext as _
from jinja2 import StrictUndefined, TemplateError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

# The most text (or items) a `*` in a template may produce.
MAX_REPEAT = 10_000


class TemplateRenderError(ValueError):
    """A template that cannot be rendered, with a message fit to show its author."""


class _TemplateEnvironment(SandboxedEnvironment):
    """The sandbox without the ways a few characters of template could use up a server's
    memory: no globals (`range`, `lipsum`… are not registry variables either, so the check
    refuses them), no `**`, and `*` repeating a text or list only up to MAX_REPEAT."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.globals.clear()

    def call_binop(self, context, operator, left, right):
        if operator == "**":
            raise SecurityError(_("Powers (**) are not allowed in templates."))
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, str | list | tuple) and isinstance(times, int):
                if len(seq) * times > MAX_REPEAT:
                    raise SecurityError(
                        _("A repetition (*) may give at most %(max)d characters.")
                        % {"max": MAX_REPEAT}
                    )
        return super().call_binop(context, operator, left, right)


_text_env = _TemplateEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True)
_html_env = _TemplateEnvironment(undefined=StrictUndefined, autoescape=True, trim_blocks=True)


def _env(html: bool) -> SandboxedEnvironment:
    return _html_env if html else _text_env


def template_validate(source: str, *, allowed: Iterable[str], html: bool = False) -> None:
    """Raise TemplateRenderError if the source does not parse, uses an unknown variable or
    reaches into a value's attributes."""
    _validate(source, frozenset(allowed), html)


@lru_cache(maxsize=1024)
def _validate(source: str, allowed: frozenset, html: bool) -> None:
    # Cached: the same template is checked against the same variables for every message it
    # renders (a failing check raises, and is not cached).
    env = _env(html)
    try:
        ast = env.parse(source)
    except TemplateError as exc:
        raise TemplateRenderError(
            _("Syntax error on line %(line)s: %(error)s")
            % {"line": getattr(exc, "lineno", "?"), "error": getattr(exc, "message", exc)}
        ) from exc
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        raise TemplateRenderError(
            _(
                "Attribute and item access are not allowed in templates (line %(line)s); "
                "use the prepared variables"
            )
            % {"line": node.lineno}
        )
    unknown = sorted(meta.find_undeclared_variables(ast) - set(allowed))
    if unknown:
        raise TemplateRenderError(
            _("Unknown variable(s): %(names)s") % {"names": ", ".join(unknown)}
        )


@lru_cache(maxsize=1024)
def _compiled(source: str, html: bool):
    return _env(html).from_string(source)


def template_render(source: str, context: dict, *, html: bool = False) -> str:
    template_validate(source, allowed=context.keys(), html=html)
    try:
        return _compiled(source, html).render(**context).strip()
    except (TemplateError, ArithmeticError, TypeError, ValueError) as exc:
        # Expressions on the values fail at render time (`{{ amount - 1 }}` on a text,
        # `{{ 1 / 0 }}`): the author's mistake, to be shown like any other.
        raise TemplateRenderError(_("Cannot render: %(error)s") % {"error": exc}) from exc
