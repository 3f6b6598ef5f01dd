"""A timeline (``_timeline``) drawn as one self-contained HTML file: an SVG Gantt chart.

No script, no external file: the styles and the hatch pattern are inline, so the file opens the
same anywhere (a browser, a CI artifact). Each bar is an SVG group with ``data-row``,
``data-label``, ``data-kind``, ``data-start-ms``, ``data-end-ms`` and ``data-critical``, and a
``<title>`` (the browser's tooltip) with its times. The time axis is linear except where the
sandbox was frozen longer than the chart could show beside the rest: such a gap is cut to a
fixed width (a broken axis) and labelled with its length.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._timeline import Marker, Span, Timeline, build_timeline
from ._timeline import format_ms as _ms

__all__ = ["render_html", "write_html", "write_timeline"]

LABEL_W = 200
CHART_W = 1000
ROW_H = 30
BAR_H = 18
TOP = 56
GAP_PX = 110
"""Width of a frozen gap cut out of the axis."""
CHAR_PX = 6.4
"""About how wide a character of the 11 px labels is."""

STYLE = """
body { font: 13px/1.4 system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 18px; margin: 0 0 4px; } h2 { font-size: 14px; margin: 14px 0 4px; }
.note { color: #8a4b00; }
ol.critical-path { margin: 0; padding-left: 22px; } ol.critical-path li { margin: 1px 0; }
.chart { overflow-x: auto; border: 1px solid #ddd; margin-top: 10px; }
svg text { font: 11px system-ui, sans-serif; }
.row-label { fill: #333; } .row-bg { fill: #f7f7f7; }
.axis line { stroke: #bbb; } .axis text { fill: #666; } .axis .break { stroke: #888; }
.span rect { stroke: #0004; stroke-width: 0.5; } .span text { fill: #fff; }
.span text.outside { fill: #333; }
.span.critical rect.bar { stroke: #c2185b; stroke-width: 3; }
.marker path { fill: #222; } .marker.critical path { fill: #c2185b; }
.marker text { fill: #222; font-weight: 600; }
.init-end line { stroke: #222; stroke-dasharray: 4 3; } .init-end text { fill: #222; }
.frozen-band { fill: #dbe9f6; opacity: 0.6; }
.kind-init-phase rect { fill: #4c78a8; } .kind-init-failed rect { fill: #d62728; }
.kind-ext-start rect { fill: #2a9d8f; } .kind-ext-hold rect { fill: #b279a2; }
.kind-ext-release rect { fill: #7b4f9d; } .kind-ext-wait rect { fill: #9c8fb0; }
.kind-ext-failed rect { fill: #d62728; } .kind-ext-invoke rect { fill: #2a9d8f; }
.kind-runtime-import rect { fill: #f58518; } .kind-runtime rect { fill: #f2b56b; }
.kind-handler rect { fill: #54a24b; }
.kind-attempt rect { fill: #54a24b; } .kind-attempt-failed rect { fill: #e45756; }
.kind-backoff rect { fill: #c9c9c9; } .kind-backoff text { fill: #333; }
.kind-wait rect, .kind-waited rect { fill: url(#hatch); stroke: #333; }
.kind-wait text, .kind-waited text { fill: #111; paint-order: stroke; stroke: #fff;
  stroke-width: 3px; }
.kind-frozen rect { fill: #9ecae9; } .kind-frozen text { fill: #1d3a57; }
.kind-restore rect { fill: #8cd17d; } .kind-restore-failed rect { fill: #d62728; }
.kind-snapshot rect { fill: #b6992d; }
.kind-shutdown rect { fill: #79706e; }
.kind-invoke rect { fill: #4c78a8; } .kind-invoke-failed rect { fill: #d62728; }
table { border-collapse: collapse; margin-top: 6px; } td, th { padding: 1px 8px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 14px; height: 10px; margin-right: 4px; }
"""

LEGEND = [
    ("#4c78a8", "INIT / invocation"),
    ("#2a9d8f", "extension start → register"),
    ("#b279a2", "extension holds INIT"),
    ("#f58518", "runtime start + handler import"),
    ("#54a24b", "init attempt / handler"),
    ("#e45756", "failed attempt"),
    ("#c9c9c9", "backoff before a retry"),
    ("repeating-linear-gradient(45deg,#333 0 1px,#fff 1px 4px)", "waiting (for an init)"),
    ("#9ecae9", "frozen"),
]


def write_timeline(
    path: str | os.PathLike[str], records: Sequence[Mapping[str, Any]], *, title: str = "sandbox"
) -> Path:
    """Draw the sandbox whose ``records`` these are (``Sandbox.records``, or the ``--records``
    file's lines) into the HTML file ``path``; returns its path."""
    return write_html(build_timeline(records, title=title), Path(path))


def write_html(timeline: Timeline, path: Path) -> Path:
    """Write the timeline's HTML file at ``path`` (its directory made if needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(timeline), encoding="utf-8")
    return path


def render_html(timeline: Timeline) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(timeline.title)} — timeline</title>",
        f"<style>{STYLE}</style></head><body>",
        f'<h1 id="title">{esc(timeline.title)}</h1>',
        f"<p>{esc(_summary(timeline))}</p>",
    ]
    parts += [f'<p class="note">{esc(note)}</p>' for note in timeline.notes]
    for number, path in enumerate(timeline.critical_paths, 1):
        parts.append(f"<h2>Critical path of INIT {number}</h2>")
        parts.append(f'<ol class="critical-path" data-init="{number}">')
        parts += [f"<li>{esc(_step(item, timeline))}</li>" for item in path]
        parts.append("</ol>")
    legend = "".join(
        f'<span><i style="background:{color}"></i>{esc(text)}</span>' for color, text in LEGEND
    )
    legend += "<span>◆ report received</span>"
    legend += '<span><i style="border:3px solid #c2185b"></i>critical path</span>'
    parts.append(f'<p class="legend">{legend}</p>')
    parts.append(f'<div class="chart">{_svg(timeline)}</div>')
    parts.append(_table(timeline))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _summary(timeline: Timeline) -> str:
    inits = [s for s in timeline.spans if s.kind in ("init-phase", "init-failed")]
    invokes = [s for s in timeline.spans if s.row == "invocations"]
    said = [f"{len(inits)} INIT(s): " + ", ".join(s.label for s in inits)] if inits else []
    if invokes:
        said.append(f"{len(invokes)} invocation(s)")
    said.append(f"{_ms(timeline.end_ms - timeline.start_ms)} in all")
    return "; ".join(said) + "."


def _step(item: Span | Marker, timeline: Timeline) -> str:
    at = f"{_ms(item.start_ms - timeline.start_ms)}"
    if isinstance(item, Marker):
        return f"{item.row}: {item.label} (at {at})"
    return f"{item.row}: {item.label}, {_ms(item.duration_ms)} (from {at})"


# --------------------------------------------------------------------------------- scale


@dataclass(frozen=True)
class _Piece:
    t0: float
    t1: float
    x0: float
    x1: float
    cut: bool
    """A frozen gap drawn at a fixed width."""


class _Scale:
    """Time (ms) to x (px): linear, except for long frozen gaps cut to ``GAP_PX`` each."""

    def __init__(self, start: float, end: float, frozen: list[tuple[float, float]]) -> None:
        end = max(end, start + 1.0)
        cuts = sorted((max(a, start), min(b, end)) for a, b in frozen if b > a)
        for _ in range(len(cuts) + 1):  # a gap that would be narrower than GAP_PX stays whole
            kept = [(a, b) for a, b in cuts if (b - a) * self._ppm(start, end, cuts) > GAP_PX]
            if kept == cuts:
                break
            cuts = kept
        self.ppm = self._ppm(start, end, cuts)
        self.pieces: list[_Piece] = []
        t, x = start, float(LABEL_W)
        for a, b in cuts:
            self.pieces.append(_Piece(t, a, x, x + (a - t) * self.ppm, cut=False))
            x += (a - t) * self.ppm
            self.pieces.append(_Piece(a, b, x, x + GAP_PX, cut=True))
            t, x = b, x + GAP_PX
        self.pieces.append(_Piece(t, end, x, x + (end - t) * self.ppm, cut=False))

    @staticmethod
    def _ppm(start: float, end: float, cuts: list[tuple[float, float]]) -> float:
        active = (end - start) - sum(b - a for a, b in cuts)
        room = CHART_W - GAP_PX * len(cuts)
        return max(room, CHART_W / 4) / max(active, 1e-6)

    def x(self, t: float) -> float:
        for piece in self.pieces:
            if t <= piece.t1:
                if t <= piece.t0:
                    return piece.x0
                share = (t - piece.t0) / max(piece.t1 - piece.t0, 1e-9)
                return piece.x0 + share * (piece.x1 - piece.x0)
        return self.pieces[-1].x1


# ------------------------------------------------------------------------------------ svg


def _svg(timeline: Timeline) -> str:
    frozen = [(s.start_ms, s.end_ms) for s in timeline.spans if s.kind == "frozen"]
    scale = _Scale(timeline.start_ms, timeline.end_ms, frozen)
    rows = {row: i for i, row in enumerate(timeline.rows)}
    bottom = TOP + ROW_H * len(rows)
    height = bottom + 22
    width = int(scale.pieces[-1].x1) + 20
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="timeline">',
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#333" stroke-width="2"/></pattern></defs>',
    ]
    for row, i in rows.items():
        y = TOP + i * ROW_H
        if i % 2 == 0:
            out.append(f'<rect class="row-bg" x="0" y="{y}" width="{width}" height="{ROW_H}"/>')
        out.append(
            f'<text class="row-label" data-row="{html.escape(row)}" x="{LABEL_W - 8}" '
            f'y="{y + ROW_H / 2 + 4}" text-anchor="end">{html.escape(row)}</text>'
        )
    for a, b in frozen:
        x0, x1 = scale.x(a), scale.x(b)
        out.append(
            f'<rect class="frozen-band" x="{x0:.1f}" y="{TOP}" width="{max(x1 - x0, 1):.1f}" '
            f'height="{ROW_H * len(rows)}"/>'
        )
    out += _axis(scale, timeline.start_ms, bottom)
    out += _bars(timeline, scale, rows)
    for marker in timeline.markers:
        out.append(_marker(marker, scale, rows[marker.row]))
    for end in timeline.init_ends:
        x = scale.x(end)
        out.append(
            f'<g class="init-end" data-at-ms="{end:.3f}"><line x1="{x:.1f}" y1="{TOP - 6}" '
            f'x2="{x:.1f}" y2="{bottom + 4}"/><text x="{x:.1f}" y="{height - 6}" '
            'text-anchor="middle">INIT end</text></g>'
        )
    out.append("</svg>")
    return "\n".join(out)


def _axis(scale: _Scale, origin: float, bottom: int) -> list[str]:
    step = _nice_step(80 / scale.ppm)
    out = ['<g class="axis">']
    last_label = -math.inf
    for piece in scale.pieces:
        if piece.cut:
            mid = (piece.x0 + piece.x1) / 2
            out.append(
                f'<line class="break" x1="{mid - 4:.1f}" y1="{TOP - 10}" x2="{mid + 2:.1f}" '
                f'y2="{TOP - 2}"/><line class="break" x1="{mid + 2:.1f}" y1="{TOP - 10}" '
                f'x2="{mid + 8:.1f}" y2="{TOP - 2}"/>'
            )
            continue
        tick = math.ceil((piece.t0 - origin) / step) * step
        while origin + tick <= piece.t1:
            x = scale.x(origin + tick)
            out.append(f'<line x1="{x:.1f}" y1="{TOP - 6}" x2="{x:.1f}" y2="{bottom}"/>')
            if x - last_label > 60:
                out.append(f'<text x="{x:.1f}" y="{TOP - 20}" text-anchor="middle">')
                out.append(f"{_ms(tick)}</text>")
                last_label = x
            tick += step
    out.append("</g>")
    return out


def _nice_step(ms: float) -> float:
    """1, 2 or 5 times a power of ten, at least ``ms``."""
    power = 10.0 ** math.floor(math.log10(max(ms, 1e-3)))
    return next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= ms)


def _bars(timeline: Timeline, scale: _Scale, rows: dict[str, int]) -> list[str]:
    out = []
    by_row: dict[str, list[Span]] = {}
    for span in timeline.spans:
        by_row.setdefault(span.row, []).append(span)
    for row, spans in by_row.items():
        base = [s for s in spans if not s.overlay]
        base.sort(key=lambda s: s.start_ms)
        starts = [scale.x(s.start_ms) for s in base]
        for i, span in enumerate(base):
            room_right = (starts[i + 1] if i + 1 < len(base) else scale.pieces[-1].x1 + 20) - (
                scale.x(span.end_ms) + 4
            )
            covered = _covered_from(span, [s for s in spans if s.overlay], scale)
            out.append(_bar(span, scale, rows[row], room_right, covered))
        for span in (s for s in spans if s.overlay):
            out.append(_bar(span, scale, rows[row], 0.0))
    return out


def _covered_from(span: Span, overlays: list[Span], scale: _Scale) -> float:
    """Where the span's own label can start: after any overlay drawn over its beginning."""
    x = scale.x(span.start_ms)
    for overlay in sorted(overlays, key=lambda s: s.start_ms):
        if scale.x(overlay.start_ms) <= x + 2 < scale.x(overlay.end_ms):
            x = scale.x(overlay.end_ms)
    return x


def _bar(
    span: Span, scale: _Scale, index: int, room_right: float, label_from: float | None = None
) -> str:
    esc = html.escape
    x0 = scale.x(span.start_ms)
    width = max(scale.x(span.end_ms) - x0, 2.0)
    bar_h = BAR_H - 6 if span.overlay else BAR_H
    y = TOP + index * ROW_H + (ROW_H - bar_h) / 2
    classes = f"span kind-{span.kind}" + (" critical" if span.critical else "")
    tip = f"{span.row}: {span.label} — {_ms(span.duration_ms)}"
    tip += f" ({span.start_ms:.1f} → {span.end_ms:.1f} ms)"
    if span.detail:
        tip += f"\n{span.detail}"
    text_w = len(span.label) * CHAR_PX
    text_x = x0 if label_from is None else label_from
    if text_w + 6 <= x0 + width - text_x:
        text = f'<text x="{text_x + 3:.1f}" y="{y + bar_h / 2 + 4:.1f}">{esc(span.label)}</text>'
    elif text_w <= room_right and not span.overlay:
        text = (
            f'<text class="outside" x="{x0 + width + 3:.1f}" y="{y + bar_h / 2 + 4:.1f}">'
            f"{esc(span.label)}</text>"
        )
    else:
        text = ""
    return (
        f'<g class="{classes}" data-row="{esc(span.row)}" data-label="{esc(span.label)}" '
        f'data-kind="{span.kind}" data-start-ms="{span.start_ms:.3f}" '
        f'data-end-ms="{span.end_ms:.3f}" data-critical="{str(span.critical).lower()}">'
        f"<title>{esc(tip)}</title>"
        f'<rect class="bar" x="{x0:.1f}" y="{y:.1f}" width="{width:.1f}" height="{bar_h}" '
        f'rx="2"/>{text}</g>'
    )


def _marker(marker: Marker, scale: _Scale, index: int) -> str:
    esc = html.escape
    x = scale.x(marker.at_ms)
    y = TOP + index * ROW_H + ROW_H / 2
    classes = f"marker kind-{marker.kind}" + (" critical" if marker.critical else "")
    return (
        f'<g class="{classes}" data-row="{esc(marker.row)}" data-label="{esc(marker.label)}" '
        f'data-kind="{marker.kind}" data-at-ms="{marker.at_ms:.3f}" '
        f'data-critical="{str(marker.critical).lower()}">'
        f"<title>{esc(marker.row)}: {esc(marker.label)} at {marker.at_ms:.1f} ms</title>"
        f'<path d="M{x:.1f} {y - 8:.1f} l6 8 l-6 8 l-6 -8 z"/></g>'
    )


def _table(timeline: Timeline) -> str:
    esc = html.escape
    origin = timeline.start_ms
    rows = [
        "<details><summary>Every span (ms from the first one)</summary><table>",
        "<tr><th>row</th><th>span</th><th>start</th><th>end</th><th>duration</th>"
        "<th>critical</th><th>detail</th></tr>",
    ]
    for span in sorted(timeline.spans, key=lambda s: (s.start_ms, s.end_ms)):
        rows.append(
            f"<tr><td>{esc(span.row)}</td><td>{esc(span.label)}</td>"
            f'<td class="num">{span.start_ms - origin:.1f}</td>'
            f'<td class="num">{span.end_ms - origin:.1f}</td>'
            f'<td class="num">{span.duration_ms:.1f}</td>'
            f"<td>{'yes' if span.critical else ''}</td><td>{esc(span.detail)}</td></tr>"
        )
    rows.append("</table></details>")
    return "\n".join(rows)
