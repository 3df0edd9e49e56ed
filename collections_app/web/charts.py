"""Server-side SVG charts for the dashboard: geometry computed here, drawn by templates, so
the page needs no charting library and reads the same without JavaScript."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    text: str  # the value as shown (money, percentage)
    x: float
    y: float
    width: float
    height: float

    @property
    def cx(self) -> float:
        return self.x + self.width / 2


def bar_chart(items: list[tuple[str, float, str]], *, width=560, height=180) -> dict:
    """Vertical bars for (label, value, text) items, scaled to the largest value; the chart's
    width, height and bars, with room for labels under the bars and values above them."""
    top, bottom = 18, 22
    room = height - top - bottom
    peak = max((value for _label, value, _text in items), default=0) or 1
    slot = width / max(len(items), 1)
    bars = []
    for i, (label, value, text) in enumerate(items):
        h = max(room * max(value, 0) / peak, 1 if value else 0)
        bars.append(
            Bar(
                label=label,
                text=text,
                x=i * slot + slot * 0.15,
                y=top + room - h,
                width=slot * 0.7,
                height=h,
            )
        )
    return {"width": width, "height": height, "bars": bars, "baseline": top + room}


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
