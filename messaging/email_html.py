"""The HTML part of an e-mail, from its template rendered with HTML autoescaping: paragraphs
at blank lines, line breaks kept, web addresses made links (the payment link first of all)."""

import re

from markupsafe import Markup

_URL = re.compile(r"https?://[^\s<>\"']+")


def text_to_html(escaped: str) -> str:
    """`escaped` is template output whose variables were already HTML-escaped."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", escaped) if p.strip()]
    html = "".join(
        "<p>"
        + _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', p).replace("\n", "<br>\n")
        + "</p>\n"
        for p in paragraphs
    )
    return str(
        Markup(
            '<!doctype html>\n<html lang="pt-BR"><body style="font-family:Arial,sans-serif;'
            'font-size:15px;line-height:1.5;color:#222">\n'
        )
        + Markup(html)
        + Markup("</body></html>\n")
    )
