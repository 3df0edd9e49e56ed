"""Server-side SVG charts for the dashboard: geometry computed here, drawn by templates, so
the page needs no charting library and reads the same without JavaScript.

A chart is laid out for one viewBox (the page draws a wide and a narrow one and shows the one
that fits its box). Bars stand on a zero baseline with heights proportional to their values,
against a y axis of round ticks. Every text's box is estimated from conservative glyph widths
(DejaVu Sans, wider than the usual UI fonts) and placed so that none leaves the viewBox or
covers another: a value label that would overlap its neighbour's goes up a line, a category
label down a line, and the plot makes room for them."""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from babel.numbers import format_compact_currency, format_compact_decimal, get_currency_symbol

# Advance widths in em of DejaVu Sans (the fallback UI font on Linux and the widest common
# one): what a label measures when the reader's font is the widest it can be.
_WIDE = {"m": 0.974, "w": 0.818, "M": 0.863, "W": 0.989, "%": 0.950, "+": 0.838, "—": 1.0}
_NARROW = (
    {c: 0.318 for c in " ,.:;'|!"}
    | {"/": 0.337}
    | {c: 0.278 for c in "ijlI"}
    | {"f": 0.352, "t": 0.392}
)
_DIGIT = 0.636
ASCENT, DESCENT = 0.93, 0.24  # of the font size: a text's box above and below its baseline


def text_width(text: str, size: float) -> float:
    """The width of `text` at font `size`, erring on the wide side."""
    em = 0.0
    for char in text:
        if char in _WIDE:
            em += _WIDE[char]
        elif char in _NARROW:
            em += _NARROW[char]
        elif char.isdigit():
            em += _DIGIT
        elif char.isupper() or char in "$&@#":
            em += 0.72
        else:
            em += 0.62
    return em * size * 1.04


def _babel_locale(locale: str) -> str:
    return "pt_BR" if locale.lower().startswith("pt") else "en_US"


def short_money(amount, currency: str = "BRL", locale: str = "pt-br") -> str:
    """An amount for a chart: `R$ 4,3 mil`, `R$ 1,2 mi`, `R$ 850` in pt-BR (`R$4.3K` in
    English); the full amount goes in the table and the tooltip."""
    value = float(amount or 0)
    if abs(value) >= 1000:  # three significant digits, so 999.950 reads "1 mi", not "1000 mil"
        value = float(f"{value:.3g}")
    text = format_compact_currency(value, currency, locale=_babel_locale(locale), fraction_digits=1)
    return text.replace("\xa0", " ")


def short_number(value, locale: str = "pt-br") -> str:
    return format_compact_decimal(
        float(value or 0), locale=_babel_locale(locale), fraction_digits=1
    ).replace("\xa0", " ")


def nice_ticks(peak: float, most: int = 5) -> list[float]:
    """Round tick values from 0 to at least `peak`, at most `most` intervals (1, 2, 2.5, 5
    times a power of ten apart)."""
    peak = max(peak, 0.0)
    if peak == 0:
        return [0.0]
    raw = peak / most
    power = 10 ** math.floor(math.log10(raw))
    step = next(f * power for f in (1, 2, 2.5, 5, 10) if f * power >= raw)
    count = math.ceil(peak / step - 1e-9)
    return [round(i * step, 10) for i in range(count + 1)]


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    def overlaps(self, other: "Box", gap: float = 0.0) -> bool:
        return not (
            self.x1 + gap <= other.x0
            or other.x1 + gap <= self.x0
            or self.y1 + gap <= other.y0
            or other.y1 + gap <= self.y0
        )


@dataclass(frozen=True)
class Label:
    """A text drawn centred on `x` (or ending at it, `anchor="end"`), baseline at `y`."""

    text: str
    x: float
    y: float
    kind: str  # "value", "category", "tick" or "unit" (the y axis's, above its ticks)
    size: float
    anchor: str = "middle"
    lift: float = 0.0  # how far it was moved off its place to clear another

    @property
    def box(self) -> Box:
        width = text_width(self.text, self.size)
        x0 = {"end": self.x - width, "start": self.x}.get(self.anchor, self.x - width / 2)
        return Box(x0, self.y - ASCENT * self.size, x0 + width, self.y + DESCENT * self.size)


@dataclass(frozen=True)
class Bar:
    category: str
    series: int  # which series: its legend entry
    tone: str  # the series' colour
    value: float
    title: str  # the full value, for the tooltip
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    titles: Sequence[str]  # each value in full ("R$ 4.269,60"), for tooltips
    tone: str = "brand"  # its colour: rc-tone-<tone> in the charts' stylesheet


@dataclass
class Chart:
    width: float
    height: float
    font: float
    left: float
    top: float
    right: float
    baseline: float
    bars: list[Bar] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    gridlines: list[float] = field(default_factory=list)  # y of each tick's line
    # A lifted value label's thin line down to its bars: (x, y from, y to).
    leaders: list[tuple[float, float, float]] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)

    @property
    def ticks(self) -> list[Label]:
        return [label for label in self.labels if label.kind == "tick"]

    @property
    def unit(self) -> Label | None:
        return next((label for label in self.labels if label.kind == "unit"), None)

    @property
    def texts(self) -> list[Label]:
        return [label for label in self.labels if label.kind != "tick"]


def _fit_x(text: str, cx: float, size: float, left: float, width: float) -> float:
    """A centred text's x moved, if it must, to keep it between the y axis and the edge."""
    half = text_width(text, size) / 2
    return min(max(cx, left + half), width - half - 1)


def _settle(labels: list[Label], step: float, up: bool, placed: list[Label]) -> list[Label]:
    """Each label in turn at its place or, if it would cover one already placed, a line further
    up (value labels) or down (category labels) until it covers none."""
    out = []
    for label in labels:
        while any(label.box.overlaps(other.box, gap=1) for other in placed + out):
            move = -step if up else step
            label = Label(
                label.text,
                label.x,
                label.y + move,
                label.kind,
                label.size,
                label.anchor,
                label.lift + step,
            )
        out.append(label)
    return out


def bar_chart(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    value_labels: Sequence[str] | None = None,
    axis_format: Callable[[float], str] = str,
    axis_unit: str = "",
    width: float = 560,
    height: float = 260,
    font: float = 12,
    empty_peak: float = 1.0,
) -> Chart:
    """Vertical bars, one group per category and one bar per series in each group, from a zero
    baseline against round y ticks labelled by `axis_format` (and `axis_unit` above them, when
    the ticks leave their unit out to save room). `value_labels` (one per category,
    short) are written above each group; the full values are the bars' tooltips."""
    values = [max(float(v or 0), 0.0) for s in series for v in s.values]
    peak = max(values, default=0.0)
    right = width - 4
    line = (ASCENT + DESCENT) * font + 2
    pad = 4

    # The plot shrinks from the top and bottom until every label fits: each pass measures how
    # far the stacked labels went past the viewBox and makes that much room.
    top, bottom_room = line + pad, line + pad + 2
    for _attempt in range(12):
        baseline = height - bottom_room
        room = baseline - top
        if room < 3 * line or _attempt == 11:
            # No room to stack the value labels: the chart goes without them (the tooltips and
            # the table beside it still have every figure).
            value_labels = None
            top, bottom_room = line / 2 + 2, line + pad + 2
            baseline = height - bottom_room
            room = baseline - top
        # As many round ticks as fit a line and a half apart, and the plot starts after the
        # widest tick label.
        ticks = nice_ticks(peak or empty_peak, most=max(1, min(5, int(room // (line * 1.5)))))
        tick_texts = [axis_format(t) for t in ticks]
        left = max(text_width(t, font) for t in tick_texts) + 8
        slot = (right - left) / max(len(categories), 1)
        scale = room / ticks[-1]
        bars, group_tops = [], []
        inner = slot * 0.72
        bar_width = inner / max(len(series), 1)
        for i, category in enumerate(categories):
            x = left + i * slot + (slot - inner) / 2
            tallest = 0.0
            for k, s in enumerate(series):
                value = max(float(s.values[i] or 0), 0.0)
                h = value * scale
                if value and h < 1:  # a tiny amount stays visible
                    h = 1.0
                tallest = max(tallest, h)
                bars.append(
                    Bar(
                        category,
                        k,
                        s.tone,
                        value,
                        s.titles[i],
                        x + k * bar_width,
                        baseline - h,
                        bar_width,
                        h,
                    )
                )
            group_tops.append(baseline - tallest)

        tick_labels = [
            Label(
                text,
                left - 6,
                baseline - t * scale + (ASCENT - DESCENT) * font / 2,
                "tick",
                font,
                "end",
            )
            for t, text in zip(ticks, tick_texts, strict=True)
        ]
        if axis_unit:
            top_tick = tick_labels[-1]
            tick_labels.append(Label(axis_unit, top_tick.x, top_tick.y - line, "unit", font, "end"))
        categories_placed = _settle(
            [
                Label(
                    c,
                    _fit_x(c, left + (i + 0.5) * slot, font, left, width),
                    baseline + pad + ASCENT * font,
                    "category",
                    font,
                )
                for i, c in enumerate(categories)
            ],
            line,
            up=False,
            placed=tick_labels,
        )
        values_placed = _settle(
            [
                Label(
                    v,
                    _fit_x(v, left + (i + 0.5) * slot, font, left, width),
                    group_tops[i] - pad - DESCENT * font,
                    "value",
                    font,
                )
                for i, v in enumerate(value_labels or [])
                if v
            ],
            line,
            up=True,
            placed=tick_labels + categories_placed,
        )
        labels = tick_labels + categories_placed + values_placed
        value_slots = [i for i, v in enumerate(value_labels or []) if v]
        leaders = [
            (left + (i + 0.5) * slot, label.box.y1 + 1, group_tops[i] - 2)
            for i, label in zip(value_slots, values_placed, strict=True)
            if label.lift
        ]
        over_top = max((-label.box.y0 for label in labels), default=0)
        over_bottom = max((label.box.y1 - height for label in labels), default=0)
        if over_top <= 0 and over_bottom <= 0:
            break
        top += max(over_top, 0) + (1 if over_top > 0 else 0)
        bottom_room += max(over_bottom, 0) + (1 if over_bottom > 0 else 0)
    return Chart(
        width=width,
        height=height,
        font=font,
        left=left,
        top=top,
        right=right,
        baseline=baseline,
        bars=bars,
        labels=labels,
        gridlines=[baseline - t * scale for t in ticks],
        leaders=leaders,
        series=list(series),
    )


# Each chart is laid out twice: for a card as wide as half a desktop page and for a phone's;
# the page shows the one that fits its box, so the text reads at about 11–12 px on both.
CHART_LAYOUTS = {"wide": {"width": 560, "height": 260}, "narrow": {"width": 340, "height": 250}}


def money_bar_charts(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    value_labels: Sequence[str] | None,
    summary: str,
    locale: str = "pt-br",
    currency: str = "BRL",
) -> dict:
    """A bar chart of amounts in each layout, and `summary`: every figure in one sentence, for
    its title. The wide layout's ticks read "R$ 50 mil"; the narrow one's "50 mil" under an
    "R$", which leaves its bars the room of a phone."""
    options = {"value_labels": value_labels, "empty_peak": 1000}
    return {
        "wide": bar_chart(
            categories,
            series,
            axis_format=lambda value: short_money(value, currency, locale),
            **CHART_LAYOUTS["wide"],
            **options,
        ),
        "narrow": bar_chart(
            categories,
            series,
            axis_format=lambda value: short_number(value, locale),
            axis_unit=get_currency_symbol(currency, locale=_babel_locale(locale)),
            **CHART_LAYOUTS["narrow"],
            **options,
        ),
        "summary": summary,
    }


def funnel(rows: list[dict]) -> list[dict]:
    """Sent → delivered → clicked → paid per step and channel (segments added together), each
    stage with its share of the sent messages, for horizontal bars."""
    merged: dict[tuple, dict] = {}
    for row in rows:
        key = (row["offset_days"], row["step"] or "—", row["channel"] or "—")
        target = merged.setdefault(
            key,
            {"step": key[1], "channel": key[2], "sent": 0, "delivered": 0, "clicked": 0, "paid": 0},
        )
        target["sent"] += row["sent"]
        target["delivered"] += row["delivered"]
        target["clicked"] += row["clicked"]
        target["paid"] += row["payments"]
    out = []
    for key in sorted(merged, key=lambda k: (k[0] is None, k[0] or 0, k[2])):
        row = merged[key]
        sent = row["sent"] or 0
        row["stages"] = [
            (name, row[name], round(100 * row[name] / sent) if sent else 0)
            for name in ("sent", "delivered", "clicked", "paid")
        ]
        out.append(row)
    return out
