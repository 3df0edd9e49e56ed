"""The README stays a front door and the docs/ pages it leads to hold together: every relative
link reaches a file, every #anchor a heading, and the production steps a test runs are found."""

import re
import unicodedata
from pathlib import Path

import pytest

from tests.config.test_production_steps import readme_production_steps
from tests.paths import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Inline links and images, [text](target) or ![alt](target); not inside code spans or blocks.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
# Taken by tests/collections_app/web/test_browser_layout.py with REGUA_README_SHOTS=1.
README_SHOTS = ("overview.png", "queue.png", "invoice.png", "payment-phone.png")
IMAGES_MADE_ELSEWHERE: set[Path] = set()


def prose(text: str) -> str:
    """The text without fenced code blocks and code spans, where brackets are not links."""
    text = re.sub(r"(?ms)^```.*?^```", "", text)
    return re.sub(r"`[^`\n]*`", "", text)


def github_anchors(text: str) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped (letters with
    accents, digits, `_` and `-` kept), spaces as hyphens, repeats numbered."""
    anchors: set[str] = set()
    for heading in re.findall(r"(?m)^#{1,6} +(.+?) *#*$", re.sub(r"(?ms)^```.*?^```", "", text)):
        slug = "".join(
            ch
            for ch in heading.strip().lower()
            if ch in " -_" or unicodedata.category(ch)[0] in "LN"
        ).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in anchors:
            n += 1
            candidate = f"{slug}-{n}"
        anchors.add(candidate)
    return anchors


def links(page: Path) -> list[str]:
    return LINK.findall(prose(page.read_text()))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_reaches_a_file_and_its_anchor(page):
    broken = []
    for target in links(page):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not ours to check here
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if file in IMAGES_MADE_ELSEWHERE:
            continue
        if not file.is_file():
            broken.append(f"{target}: no such file")
        elif anchor and anchor not in github_anchors(file.read_text()):
            broken.append(f"{target}: no heading with that anchor in {file.name}")
    assert not broken, broken


def test_the_readme_is_a_front_door():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) < 150
    for command in ("make run", "make test", "DATABASE_URL=", '-m "not slow"'):
        assert command in text
    assert "`demo@regua.local` / `demo-regua-2026`" in text
    for shot in README_SHOTS:
        assert f"](docs/img/{shot})" in text
        assert (ROOT / "docs" / "img" / shot).stat().st_size <= 300_000
    linked = {Path(t.partition("#")[0]).name for t in links(ROOT / "README.md")}
    for page in (ROOT / "docs").glob("*.md"):
        assert page.name in linked, f"the README does not lead to docs/{page.name}"


def test_the_production_steps_a_test_runs_are_in_operations():
    steps = readme_production_steps()
    assert steps[0] == "export DJANGO_SETTINGS_MODULE=config.settings.production"
    assert any(line.startswith(".venv/bin/gunicorn ") for line in steps)
    assert steps[-1].startswith(".venv/bin/celery -A config beat")
