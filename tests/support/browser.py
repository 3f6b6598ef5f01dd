"""What headless Chromium shows of a timeline page: every bar's place, size and colours.

``rendered(page, tmp)`` opens a copy of ``page`` with a probe script added at the end of its
body; the script reads what the browser laid out (``getBoundingClientRect``, computed styles)
and writes it into the page as JSON, and ``--dump-dom`` gives the page back after it ran. So a
test checks what a person would see (a bar is there, on its row, left of another, outlined as
critical), not the HTML text the sandbox wrote.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_sandbox._chromium import find_chromium

PROBE = """
<script>
(() => {
  const box = (el) => { const r = el.getBoundingClientRect();
    return {x: r.x, y: r.y, width: r.width, height: r.height}; };
  const shown = (el) => { const s = getComputedStyle(el);
    return {fill: s.fill, stroke: s.stroke, strokeWidth: s.strokeWidth,
            visible: s.visibility !== "hidden" && s.display !== "none"}; };
  const out = {title: document.querySelector("#title").textContent, bars: [], markers: [],
    rows: [], initEnds: [], critical: [], notes: [], svg: box(document.querySelector("svg"))};
  for (const g of document.querySelectorAll("g.span")) {
    const rect = g.querySelector("rect.bar"), text = g.querySelector("text");
    out.bars.push({row: g.dataset.row, label: g.dataset.label, kind: g.dataset.kind,
      critical: g.classList.contains("critical"), ...box(rect), ...shown(rect),
      text: text ? text.textContent : null, textWidth: text ? box(text).width : 0});
  }
  for (const g of document.querySelectorAll("g.marker")) {
    const path = g.querySelector("path");
    out.markers.push({row: g.dataset.row, label: g.dataset.label, kind: g.dataset.kind,
      critical: g.classList.contains("critical"), ...box(path), ...shown(path)});
  }
  for (const t of document.querySelectorAll("text.row-label"))
    out.rows.push({name: t.textContent, ...box(t)});
  for (const g of document.querySelectorAll("g.init-end"))
    out.initEnds.push(box(g.querySelector("line")));
  for (const ol of document.querySelectorAll("ol.critical-path"))
    out.critical.push([...ol.querySelectorAll("li")].map((li) => li.textContent));
  for (const p of document.querySelectorAll(".note")) out.notes.push(p.textContent);
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""
CRITICAL_STROKE = "rgb(194, 24, 91)"
"""The critical path's outline (#c2185b), as getComputedStyle gives it."""


@dataclass(frozen=True)
class Shown:
    """What the browser laid out; boxes in CSS px from the page's top left."""

    title: str
    bars: list[dict[str, Any]]
    markers: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    init_ends: list[dict[str, Any]]
    critical: list[list[str]]
    notes: list[str]
    svg: dict[str, Any]

    def bar(self, row: str, label: str) -> dict[str, Any]:
        """The one bar of ``row`` whose label starts with ``label``."""
        found = [b for b in self.bars if b["row"] == row and b["label"].startswith(label)]
        assert len(found) == 1, (row, label, [(b["row"], b["label"]) for b in self.bars])
        return found[0]

    def on_row(self, bar: dict[str, Any]) -> str:
        """The row whose label is level with ``bar``."""
        middle = bar["y"] + bar["height"] / 2
        nearest = min(self.rows, key=lambda r: abs(r["y"] + r["height"] / 2 - middle))
        return str(nearest["name"])


def rendered(page: Path, scratch: Path) -> Shown:
    """``page`` as headless Chromium laid it out (a copy with the probe, in ``scratch``)."""
    text = page.read_text(encoding="utf-8")
    assert text.count("</body>") == 1, f"{page} has no single </body>"
    probed = scratch / f"probed-{page.name}"
    probed.write_text(text.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = find_chromium().dump_dom(probed)
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, f"the probe did not run in Chromium; its DOM begins: {dom[:300]!r}"
    data = json.loads(html.unescape(found.group(1)))
    return Shown(
        title=data["title"],
        bars=data["bars"],
        markers=data["markers"],
        rows=data["rows"],
        init_ends=data["initEnds"],
        critical=data["critical"],
        notes=data["notes"],
        svg=data["svg"],
    )


def screenshot(page: Path, png: Path) -> Path:
    """A PNG of ``page`` (for a person to look at; tests keep it beside their other output)."""
    return find_chromium().screenshot(page, png)
