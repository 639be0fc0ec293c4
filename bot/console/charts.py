"""Charts of the web console drawn on the server as SVG (no script, no library): stacked vertical
bars and horizontal bars. Every chart is shown next to a table with the same numbers."""

from __future__ import annotations

from html import escape

PALETTE = ("#1f5fa8", "#d9822b", "#2e8540", "#a4262c", "#6b4ea1", "#00838f", "#8a6d00", "#555555", "#c2185b")


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    step = 1.0
    while step * 10 < value:
        step *= 10
    for m in (1, 2, 5, 10):
        if step * m >= value:
            return step * m
    return step * 10


def stacked_bars(title: str, labels: list[str], series: list[tuple[str, list[float]]], unit: str = "",
                 width: int = 640, height: int = 260) -> str:
    """Vertical bars, one per label, stacked by series (name, values per label)."""
    left, right, top, bottom = 44, 8, 12, 48
    n = max(1, len(labels))
    totals = [sum(s[1][i] for s in series) for i in range(len(labels))]
    top_value = 100.0 if unit == "%" else _nice_max(max(max(totals, default=0), 4))
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / n
    bar_w = max(2.0, slot * 0.7)
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
           f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for k in range(5):  # grid lines and scale
        v = top_value * k / 4
        y = top + plot_h - plot_h * k / 4
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#d0d0d0"/>')
        out.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#333">'
                   f'{_fmt(v)}{escape(unit)}</text>')
    every = max(1, -(-n // 12))  # at most ~12 labels under the axis
    for i, label in enumerate(labels):
        x = left + slot * i + (slot - bar_w) / 2
        y = top + plot_h
        for j, (name, values) in enumerate(series):
            v = values[i]
            if v <= 0:
                continue
            h = plot_h * v / top_value
            y -= h
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{color(j)}">'
                       f'<title>{escape(label)} · {escape(name)}: {_fmt(v)}{escape(unit)}</title></rect>')
        if i % every == 0:
            out.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                       f'font-size="11" fill="#333">{escape(_short(label))}</text>')
    out.append("</svg>")
    if len(series) > 1:
        out.append('<ul class="legend">' + "".join(
            f'<li><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" fill="{color(j)}"/>'
            f'</svg> {escape(name)}</li>' for j, (name, _) in enumerate(series)) + "</ul>")
    return "".join(out)


def hbars(title: str, items: list[tuple[str, float]], unit: str = "", width: int = 640) -> str:
    """Horizontal bars with their labels (top procedures, ratings)."""
    row, label_w = 24, 230
    height = max(1, len(items)) * row + 8
    top_value = _nice_max(max((v for _, v in items), default=0))
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
           f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for i, (label, v) in enumerate(items):
        y = 4 + i * row
        w = (width - label_w - 60) * v / top_value
        out.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12" fill="#222">'
                   f'{escape(label[:34])}</text>')
        out.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="{color(0)}"/>')
        out.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 15}" font-size="12" fill="#222">{_fmt(v)}'
                   f'{escape(unit)}</text>')
    out.append("</svg>")
    return "".join(out)


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


def _short(label: str) -> str:
    """"2026-11-23" -> "23/11"."""
    if len(label) == 10 and label[4] == "-" and label[7] == "-":
        return f"{label[8:10]}/{label[5:7]}"
    return label[:10]
