"""Charts as self-contained SVG (no script, no font file, no link), and PNG copies.

Each chart is drawn from the same figures as the district workbook's charts (per-pupil
allocation and change against last year, each against the share of high-need pupils) and the
totals workbook's District Totals (where the money goes). Every text in the SVG is escaped;
the page shows each chart with a text alternative and its data table.

PNG copies for a board slide deck are rendered with cairosvg when its cairo library loads,
else with headless Chromium when one is installed; `png_renderer` says which (or why none).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from markupsafe import escape

#: Okabe-Ito colours (distinguishable with colour-blindness), darkened where text sits on them.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8C6D1F",
           "#555555")
INK, GRID, AXIS = "#1a1a1a", "#d0d0d0", "#595959"
WIDTH, HEIGHT = 760, 420
FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif\""


@dataclass(frozen=True)
class Point:
    """A school on a scatter."""

    x: float
    y: float
    label: str


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0, 1.0]
    if high - low < 1e-12:
        low, high = (low - 1, high + 1) if low else (0.0, 1.0)
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step + 1e-9) * step
    ticks = []
    for i in range(count * 4 + 2):  # the axis ends at the first tick at or above the data
        v = start + i * step
        ticks.append(0.0 if abs(v) < step * 1e-9 else round(v, 10))
        if v >= high - step * 1e-9:
            break
    return ticks


def _svg(title: str, desc: str, body: list[str], height: int = HEIGHT) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
            f'width="{WIDTH}" height="{height}" role="img" aria-labelledby="t d" {FONT}>'
            f'<title id="t">{escape(title)}</title><desc id="d">{escape(desc)}</desc>'
            f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>'
            + "".join(body) + "</svg>\n")


def scatter(points: Sequence[Point], *, title: str, desc: str, x_label: str, y_label: str,
            x_format: Callable[[float], str], y_format: Callable[[float], str],
            zero_line: bool = False) -> str:
    """A scatter of schools: x and y axes with ticks, one filled circle per school."""
    left, right, top, bottom = 96, 24, 20, 64
    pw, ph = WIDTH - left - right, HEIGHT - top - bottom
    xs = [p.x for p in points] or [0.0, 1.0]
    ys = [p.y for p in points] or [0.0, 1.0]
    xt = _nice_ticks(min(0.0, min(xs)), max(xs))
    yt = _nice_ticks(min(ys) if not zero_line else min(0.0, min(ys)),
                     max(ys) if not zero_line else max(0.0, max(ys)))
    x0, x1, y0, y1 = xt[0], xt[-1], yt[0], yt[-1]

    def px(v: float) -> float:
        return left + (v - x0) / (x1 - x0) * pw

    def py(v: float) -> float:
        return top + ph - (v - y0) / (y1 - y0) * ph

    body = []
    for v in yt:
        body.append(f'<line x1="{left}" x2="{left + pw}" y1="{py(v):.1f}" y2="{py(v):.1f}" '
                    f'stroke="{GRID}" stroke-width="1"/>')
        body.append(f'<text x="{left - 8}" y="{py(v) + 4:.1f}" text-anchor="end" '
                    f'font-size="13" fill="{INK}">{escape(y_format(v))}</text>')
    for v in xt:
        body.append(f'<line x1="{px(v):.1f}" x2="{px(v):.1f}" y1="{top}" y2="{top + ph}" '
                    f'stroke="{GRID}" stroke-width="1"/>')
        body.append(f'<text x="{px(v):.1f}" y="{top + ph + 20}" text-anchor="middle" '
                    f'font-size="13" fill="{INK}">{escape(x_format(v))}</text>')
    if zero_line and y0 < 0 < y1:
        body.append(f'<line x1="{left}" x2="{left + pw}" y1="{py(0):.1f}" y2="{py(0):.1f}" '
                    f'stroke="{AXIS}" stroke-width="1.5"/>')
    body.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" '
                f'stroke="{AXIS}" stroke-width="1"/>')
    for p in points:
        body.append(f'<circle cx="{px(p.x):.1f}" cy="{py(p.y):.1f}" r="5" fill="{PALETTE[0]}" '
                    f'fill-opacity="0.8" stroke="#ffffff" stroke-width="1">'
                    f'<title>{escape(p.label)}: {escape(x_format(p.x))}, '
                    f'{escape(y_format(p.y))}</title></circle>')
    body.append(f'<text x="{left + pw / 2:.1f}" y="{HEIGHT - 14}" text-anchor="middle" '
                f'font-size="14" fill="{INK}">{escape(x_label)}</text>')
    body.append(f'<text transform="translate(18 {top + ph / 2:.1f}) rotate(-90)" '
                f'text-anchor="middle" font-size="14" fill="{INK}">{escape(y_label)}</text>')
    return _svg(title, desc, body)


def stacked_bars(bars: Sequence[tuple[str, Sequence[float]]], segments: Sequence[str], *,
                 title: str, desc: str, value_format: Callable[[float], str]) -> str:
    """Horizontal bars (one per label), each split into segments, with a legend."""
    n = max(1, len(bars))
    row, top, left, right = 40, 16, 200, 120
    legend_rows = math.ceil(len(segments) / 4) or 1
    height = top + n * row + 40 + legend_rows * 24 + 10
    pw = WIDTH - left - right
    largest = max([sum(max(0.0, v) for v in values) for _label, values in bars] + [1.0])
    ticks = _nice_ticks(0.0, largest, 4)
    scale = pw / ticks[-1]
    body = []
    for v in ticks:
        x = left + v * scale
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + n * row}" '
                    f'stroke="{GRID}"/>')
        body.append(f'<text x="{x:.1f}" y="{top + n * row + 18}" text-anchor="middle" '
                    f'font-size="12" fill="{INK}">{escape(value_format(v))}</text>')
    for i, (label, values) in enumerate(bars):
        y = top + i * row + 8
        body.append(f'<text x="{left - 8}" y="{y + 17}" text-anchor="end" font-size="13" '
                    f'fill="{INK}">{escape(_short(label, 26))}</text>')
        x = float(left)
        for j, v in enumerate(values):
            if v <= 0:
                continue
            w = v * scale
            body.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="24" '
                        f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(label)}, '
                        f'{escape(segments[j])}: {escape(value_format(v))}</title></rect>')
            x += w
        body.append(f'<text x="{x + 6:.1f}" y="{y + 17}" font-size="12" fill="{INK}">'
                    f'{escape(value_format(sum(values)))}</text>')
    ly = top + n * row + 40
    for j, name in enumerate(segments):
        lx = 16 + (j % 4) * 185
        yy = ly + (j // 4) * 24
        body.append(f'<rect x="{lx}" y="{yy}" width="14" height="14" '
                    f'fill="{PALETTE[j % len(PALETTE)]}"/>')
        body.append(f'<text x="{lx + 20}" y="{yy + 12}" font-size="13" fill="{INK}">'
                    f'{escape(_short(name, 24))}</text>')
    return _svg(title, desc, body, height)


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# --- PNG copies -------------------------------------------------------------------------------

def png_renderer() -> tuple[Callable[[str, Path], None] | None, str]:
    """(render(svg_text, png_path), how) or (None, why not)."""
    try:
        import cairosvg
    except (ImportError, OSError) as e:  # OSError: the cairo library itself is missing
        from .browser import find_chromium

        if find_chromium() is None:
            return None, f"no PNG copies: cairosvg cannot run ({e}) and Chromium is not found"

        def with_chromium(svg: str, png: Path) -> None:
            from .browser import svg_to_png

            svg_to_png(svg, png)

        return with_chromium, "Chromium"

    def with_cairo(svg: str, png: Path) -> None:
        cairosvg.svg2png(bytestring=svg.encode("utf-8"), write_to=str(png), output_width=1600)

    return with_cairo, "cairosvg"
