"""Tenant-authored templates: Jinja2's SandboxedEnvironment over a flat context of prepared
values. Undefined variables are errors; so is any attribute or item access, since the context
holds only ready-to-print values — which also shuts the door on `{{ ''.__class__ }}` tricks.
Rendering is held to the size, work and nesting limits of `template_budget`, the same when a
template is checked before saving and when a message is sent."""

import re
from collections.abc import Iterable
from functools import lru_cache

from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from jinja2 import StrictUndefined, TemplateError, meta, nodes

from messaging.template_budget import MAX_NESTING, MAX_SOURCE, number_too_large, render_limited
from messaging.template_sandbox import LimitedEnvironment, bracket_depth, tree_depth


class TemplateRenderError(ValueError):
    """A template that cannot be rendered, with a message fit to show its author."""


_text_env = LimitedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True)
_html_env = LimitedEnvironment(undefined=StrictUndefined, autoescape=True, trim_blocks=True)


def _env(html: bool) -> LimitedEnvironment:
    return _html_env if html else _text_env


def _too_nested() -> TemplateRenderError:
    return TemplateRenderError(
        _("The template nests too deeply: at most %(max)d levels.") % {"max": MAX_NESTING}
    )


def _syntax_explained(exc: TemplateError) -> str:
    """Jinja's parser messages in the author's words (and language); others as Jinja says."""
    text = str(getattr(exc, "message", exc) or "")
    block = re.search(r"innermost block that needs to be closed is '(\w+)'", text)
    if block:
        return _("%(open)s is never closed: add %(close)s.") % {
            "open": "{% " + block[1] + " %}",
            "close": "{% end" + block[1] + " %}",
        }
    if "expected 'end of print statement'" in text and "end of template" in text:
        return _("A {{ is never closed: add }}.")
    if text.startswith("Expected an expression, got 'end of print statement'"):
        return _("Empty {{ }}: write a variable's name between the braces.")
    extra = re.match(r"expected token 'end of print statement', got '(.+)'", text)
    if extra:
        return _("Only one variable fits between {{ and }} (left over: “%(extra)s”).") % {
            "extra": extra[1]
        }
    tag = re.match(r"Encountered unknown tag '(\w+)'", text)
    if tag:
        return _("Unknown command: %(tag)s.") % {"tag": "{% " + tag[1] + " %}"}
    return text


def unknown_variables_message(names) -> str:
    names = list(names)
    return ngettext("Unknown variable: %(names)s", "Unknown variables: %(names)s", len(names)) % {
        "names": ", ".join(names)
    }


def template_validate(source: str, *, allowed: Iterable[str], html: bool = False) -> None:
    """Raise TemplateRenderError if the source does not parse, uses an unknown variable or
    reaches into a value's attributes."""
    _validate(source, frozenset(allowed), html)


@lru_cache(maxsize=1024)
def _validate(source: str, allowed: frozenset, html: bool) -> None:
    # Cached: the same template is checked against the same variables for every message it
    # renders (a failing check raises, and is not cached).
    if len(source) > MAX_SOURCE:
        raise TemplateRenderError(
            _("A template may have at most %(max)d characters.") % {"max": MAX_SOURCE}
        )
    env = _env(html)
    try:
        # The parser recurses on brackets: counted on the tokens first, so how deep they may
        # go does not depend on how deep the caller's stack already is.
        if bracket_depth(env, source) > MAX_NESTING:
            raise _too_nested()
        ast = env.parse(source)
    except TemplateError as exc:
        raise TemplateRenderError(
            _("Syntax error on line %(line)s: %(error)s")
            % {"line": getattr(exc, "lineno", "?"), "error": _syntax_explained(exc)}
        ) from exc
    except RecursionError as exc:
        raise _too_nested() from exc
    except ValueError as exc:  # an integer literal longer than Python converts
        raise TemplateRenderError(str(number_too_large())) from exc
    if tree_depth(ast) > MAX_NESTING:
        raise _too_nested()
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
        raise TemplateRenderError(unknown_variables_message(unknown))


@lru_cache(maxsize=1024)
def _compiled(source: str, html: bool):
    return _env(html).from_string(source)


# Expressions on the values fail at render time (`{{ amount - 1 }}` on a text, `{{ 1 / 0 }}`),
# and so does a template over a limit: the author's mistake, to be shown like any other.
_RENDER_ERRORS = (TemplateError, ArithmeticError, TypeError, ValueError)


def template_render(source: str, context: dict, *, html: bool = False) -> str:
    """The text of the template with the context, within the limits of `template_budget`."""
    template_validate(source, allowed=context.keys(), html=html)
    try:
        template = _compiled(source, html)
    except (SyntaxError, RecursionError) as exc:
        raise _too_nested() from exc  # Python's own limits, e.g. on nested loops
    except _RENDER_ERRORS as exc:
        raise TemplateRenderError(_("Cannot render: %(error)s") % {"error": exc}) from exc
    try:
        return render_limited(template, context).strip()
    except (*_RENDER_ERRORS, RecursionError) as exc:
        raise TemplateRenderError(_("Cannot render: %(error)s") % {"error": exc}) from exc
