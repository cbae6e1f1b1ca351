"""Small server-rendered SVG bar charts for the dashboard: no script, no external file, so
they pass the console's content security policy (server/security_headers.py) as they are."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT, TOP, BOTTOM, LEFT = 640, 170, 16, 22, 48


def _number(value: float) -> str:
    """A short label: "1,780", "4.5", "0.667" (never an exponent)."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def bar_chart(title: str, points: Sequence[tuple[str, float | None]], *,
              unit: str = "") -> Markup:
    """One bar per (label, value); a None value is a gap ("no data" in its tooltip). The
    scale starts at 0 and tops at the largest value; the first and last labels are shown."""
    values = [v for _, v in points if v is not None]
    top = max(values, default=0) or 1
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(points), 1)
    bar_w = max(step * 0.7, 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>",
             f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 8}" y2="{TOP + plot_h}" stroke="#9aa5b1"/>',
             f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end" font-size="11" fill="#616e7c">'
             f"{escape(_number(top))}{escape(unit)}</text>",
             f'<text x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end" font-size="11" fill="#616e7c">0</text>']
    for i, (label, value) in enumerate(points):
        x = LEFT + i * step + (step - bar_w) / 2
        tip = f"{label}: {_number(value)}{unit}" if value is not None else f"{label}: no data"
        height = plot_h * (value / top) if value else 0
        parts.append(f'<rect x="{x:.1f}" y="{TOP + plot_h - height:.1f}" width="{bar_w:.1f}" '
                     f'height="{height:.1f}" fill="#0b6e4f"><title>{escape(tip)}</title></rect>')
    if points:
        parts.append(f'<text x="{LEFT}" y="{HEIGHT - 6}" font-size="11" fill="#616e7c">'
                     f"{escape(points[0][0])}</text>")
        parts.append(f'<text x="{WIDTH - 8}" y="{HEIGHT - 6}" text-anchor="end" font-size="11" '
                     f'fill="#616e7c">{escape(points[-1][0])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it is escaped above
