"""Jinja's filters and tests held to the render's budget: a step each, their arguments' size
spent, their result checked, and the sizes an argument decides (`center(10**9)`,
`"%999999999s"`, `indent`, `replace`, `join`…) checked before the text is built."""

import re
from collections.abc import Iterator

from jinja2 import pass_context
from jinja2.utils import _PassArg

from messaging.template_budget import (
    MAX_REPEAT,
    MAX_VALUE,
    Budget,
    Counted,
    current_budget,
    too_long,
)

_FORMAT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?[a-zA-Z%]")


def _format_size(budget: Budget, text: str, args) -> int:
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


def check_format(budget: Budget, text, args) -> None:
    if isinstance(text, str) and _format_size(budget, text, args) > MAX_VALUE:
        raise too_long()


def _text(value) -> str:
    return value if isinstance(value, str) else str(value)


def _pre_center(budget, value, width=80):
    if isinstance(width, int) and width > MAX_VALUE:
        raise too_long()
    return value


def _pre_indent(budget, s, width=4, first=False, blank=False):
    step = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    if len(_text(s)) + (_text(s).count("\n") + 2) * step > MAX_VALUE:
        raise too_long()
    return s


def _pre_wordwrap(
    budget, s, width=79, break_long_words=True, wrapstring=None, break_on_hyphens=True
):
    text, width = _text(s), width if isinstance(width, int) and width > 0 else 1
    lines = 2 * len(text) // width + text.count("\n") + 2
    if len(text) + lines * len(_text(wrapstring or "\n")) > MAX_VALUE:
        raise too_long()
    if break_long_words and len(text) > width:
        budget.spend(len(text) * len(text) // width)  # textwrap cuts long words one by one
    return s


def _pre_format(budget, value, *args, **kwargs):
    check_format(budget, _text(value), kwargs or args)
    return value


def _pre_replace(budget, s, old, new, count=None):
    text, old, new = _text(s), _text(old), _text(new)
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    if len(text) + found * max(0, len(new) - len(old)) > MAX_VALUE:
        raise too_long()
    return s


def _pre_join(budget, value, d="", attribute=None):
    items = value if isinstance(value, list | tuple) else list(value)
    if budget.size(items) + len(items) * len(_text(d)) > MAX_VALUE:
        raise too_long()
    return items


def _pre_batch(budget, value, linecount, fill_with=None):
    if fill_with is not None and isinstance(linecount, int) and linecount > MAX_REPEAT:
        raise too_long()
    return value


def _pre_urlize(
    budget, value, trim_url_limit=None, nofollow=False, target=None, rel=None, extra_schemes=None
):
    text = _text(value)
    links = len(text.split()) + 1
    extra = len(_text(target or "")) + len(_text(rel or "")) + 64
    if 3 * len(text) + links * extra > MAX_VALUE:
        raise too_long()
    return value


def _pre_tojson(budget, value, indent=None):
    step = len(indent) if isinstance(indent, str) else indent if isinstance(indent, int) else 0
    if (budget.size(value) + 1) * (step + 1) > MAX_VALUE:
        raise too_long()
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


PRE_CHECKS = {
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


def limited_filter(func, pre_check=None, *, result_checked: bool = True):
    """`func` (a filter or a test) within the render's budget. The wrapper takes the context,
    which also keeps Jinja from running it at compile time, outside any budget."""
    passes = _PassArg.from_obj(func)

    @pass_context
    def limited(context, value, *args, **kwargs):
        budget = current_budget()
        budget.step()
        budget.spend(
            budget.size(value)
            + sum(map(budget.size, args))
            + sum(map(budget.size, kwargs.values()))
        )
        if isinstance(value, Iterator) and not isinstance(value, Counted):
            value = Counted(value, budget)
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
            return result if isinstance(result, Counted) else Counted(result, budget)
        return budget.checked(result) if result_checked else result

    return limited
