"""One sandbox's life as the content of a Gantt chart: rows of spans, markers, INIT's critical path.

Made from the sandbox's records (``Sandbox.records``, or the ``--records`` file): what the
sandbox saw itself (each process's start, extension registrations, ``next`` calls, INIT's start
and end, freezes and thaws, invocations, restores, SHUTDOWN), plus what the function's and
extensions' JSON log lines say about the inits inside the runtime (``_init_logs``): the handler
module's import, each init's attempts and waits, the report, the invocations' waits. Without
those lines the chart still has everything the sandbox saw, and a note says what is missing.

Times are ms on the records' clock (``t_ms``: monotonic, since the sandbox was made); epoch times
from log lines are moved onto it with the records' own epoch stamps (``ts``).

The critical path of an INIT is the chain of spans that decided when it ended. INIT ends when
the runtime and every extension have called ``next``; walking back from the last of those calls:

- an extension that held INIT until a report: its ``report -> next``, the report, then the inits
  that settled last (the init whose last attempt ended last, all its attempts and backoffs, and,
  for each wait on another init, that init's own chain up to the wait's end), or the handler
  module's import if it ended after them; then the runtime's start and import;
- an extension that held INIT without a report (its own timeout): its hold, from registration;
- the runtime: its start, the import, its first ``next``;

and before the runtime's start (Lambda starts it once every extension has registered), the start
and registration of the extension that registered last.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._init_logs import ExtensionEvent, InitDetail, InitsSettled, InvocationWaited, parse_line

__all__ = ["Marker", "Span", "Timeline", "build_timeline", "format_ms"]

ROW_SANDBOX = "sandbox"
ROW_RUNTIME = "runtime"
ROW_INVOCATIONS = "invocations"
NO_INIT_DETAIL = (
    "No init detail: the function wrote no JSON summary of its inits "
    "(Lambda's JSON log format, AWS_LAMBDA_LOG_FORMAT=JSON, and a library that logs it)."
)


@dataclass
class Span:
    row: str
    label: str
    start_ms: float
    end_ms: float
    kind: str
    """What it is, for its colour: ``init-phase``, ``ext-start``, ``ext-hold``, ``attempt``..."""
    detail: str = ""
    critical: bool = False
    overlay: bool = False
    """Drawn over the row's other spans (a wait inside an attempt or a handler)."""

    @property
    def duration_ms(self) -> float:
        return self.end_ms - self.start_ms


@dataclass
class Marker:
    row: str
    label: str
    at_ms: float
    kind: str
    critical: bool = False

    @property
    def start_ms(self) -> float:
        return self.at_ms

    @property
    def end_ms(self) -> float:
        return self.at_ms


@dataclass
class Timeline:
    title: str
    rows: list[str]
    spans: list[Span]
    markers: list[Marker]
    init_ends: list[float]
    """Where each INIT ended (a line across every row)."""
    critical_paths: list[list[Span | Marker]]
    """Per INIT, its critical path in time order (overlays left out)."""
    notes: list[str]
    start_ms: float
    end_ms: float


def build_timeline(records: Sequence[Mapping[str, Any]], *, title: str = "sandbox") -> Timeline:
    """The timeline of the sandbox whose records these are (in the order they were written)."""
    builder = _Builder(records)
    builder.walk()
    return builder.timeline(title)


# ------------------------------------------------------------------------------ the records


@dataclass
class _Init:
    """One INIT as the sandbox saw it, and what the log lines said during it."""

    phase: str
    start: float
    end: float | None = None
    status: str | None = None
    ext_start: dict[str, float] = field(default_factory=dict)
    ext_register: dict[str, float] = field(default_factory=dict)
    ext_next: dict[str, float] = field(default_factory=dict)
    runtime_start: float | None = None
    runtime_next: float | None = None
    settled: InitsSettled | None = None
    ext_events: list[ExtensionEvent] = field(default_factory=list)
    spans: dict[str, Span] = field(default_factory=dict)
    """Its spans by role (``start:<ext>``, ``hold:<ext>``, ``release:<ext>``, ``import``...)."""
    init_spans: dict[str, list[Span]] = field(default_factory=dict)
    init_waits: dict[str, list[tuple[Span, str, float]]] = field(default_factory=dict)
    report: Marker | None = None


@dataclass
class _Invocation:
    request_id: str
    start: float
    handed: float | None = None
    answered: float | None = None
    end: float | None = None
    fields: dict[str, Any] = field(default_factory=dict)


class _Builder:
    def __init__(self, records: Sequence[Mapping[str, Any]]) -> None:
        self.records = records
        self.offset = _epoch_offset(records)
        self.inits: list[_Init] = []
        self.invocations: list[_Invocation] = []
        self.by_request: dict[str, _Invocation] = {}
        self.waited: list[InvocationWaited] = []
        self.spans: list[Span] = []
        self.markers: list[Marker] = []
        self.rows: dict[str, None] = {ROW_SANDBOX: None}
        self.frozen_since: float | None = None
        self.open: dict[str, tuple[float, Mapping[str, Any]]] = {}
        """Spans of the sandbox row in progress (restore, SHUTDOWN), by kind."""
        self.last_ms = 0.0
        self.saw_json = False

    def t(self, epoch_ms: float) -> float:
        """An epoch time (ms) on the records' clock."""
        return epoch_ms - self.offset

    # One method per kind of record; the others are not drawn.
    def walk(self) -> None:
        for rec in self.records:
            t = float(rec.get("t_ms", 0.0))
            self.last_ms = max(self.last_ms, t)
            handler = getattr(self, "on_" + str(rec.get("event")), None)
            if handler is not None:
                handler(rec, t)
        self.close_frozen(self.last_ms)

    @property
    def init(self) -> _Init | None:
        return self.inits[-1] if self.inits else None

    def on_init_start(self, rec: Mapping[str, Any], t: float) -> None:
        self.inits.append(_Init(phase=str(rec.get("phase", "init")), start=t))

    def on_init_end(self, rec: Mapping[str, Any], t: float) -> None:
        if self.init is not None:
            self.init.end = t
            self.init.status = str(rec.get("status", "success"))

    def on_process_start(self, rec: Mapping[str, Any], t: float) -> None:
        init = self.init
        if init is None or init.end is not None:
            return  # a restored process, or the keeper: not part of an INIT
        if rec.get("kind") == "extension":
            init.ext_start.setdefault(str(rec.get("name")), t)
        elif rec.get("kind") == "runtime":
            init.runtime_start = t

    def on_extension_register(self, rec: Mapping[str, Any], t: float) -> None:
        if self.init is not None:
            self.init.ext_register.setdefault(str(rec.get("name")), t)

    def on_extension_next(self, rec: Mapping[str, Any], t: float) -> None:
        if self.init is not None and rec.get("first", True):
            self.init.ext_next.setdefault(str(rec.get("name")), t)

    def on_runtime_next(self, rec: Mapping[str, Any], t: float) -> None:
        if self.init is not None and self.init.runtime_next is None:
            self.init.runtime_next = t

    on_runtime_restore_next = on_runtime_next

    def on_freeze(self, rec: Mapping[str, Any], t: float) -> None:
        if self.frozen_since is None:
            self.frozen_since = t

    def on_thaw(self, rec: Mapping[str, Any], t: float) -> None:
        self.close_frozen(t)

    def close_frozen(self, t: float) -> None:
        if self.frozen_since is not None:
            since, self.frozen_since = self.frozen_since, None
            self.add(Span(ROW_SANDBOX, f"frozen {_ms(t - since)}", since, t, "frozen"))

    def on_invoke_start(self, rec: Mapping[str, Any], t: float) -> None:
        inv = _Invocation(str(rec.get("request_id")), t)
        self.invocations.append(inv)
        self.by_request[inv.request_id] = inv

    def on_invoke_handed(self, rec: Mapping[str, Any], t: float) -> None:
        inv = self.by_request.get(str(rec.get("request_id")))
        if inv is not None:
            inv.handed = t

    def on_runtime_response(self, rec: Mapping[str, Any], t: float) -> None:
        inv = self.by_request.get(str(rec.get("request_id")))
        if inv is not None and inv.answered is None:
            inv.answered = t

    on_runtime_error = on_runtime_response

    def on_invoke_end(self, rec: Mapping[str, Any], t: float) -> None:
        inv = self.by_request.get(str(rec.get("request_id")))
        if inv is not None:
            inv.end = t
            inv.fields = dict(rec)

    def on_restore_start(self, rec: Mapping[str, Any], t: float) -> None:
        self.open["restore"] = (t, rec)

    def on_restore_end(self, rec: Mapping[str, Any], t: float) -> None:
        if "restore" in self.open:
            start, _ = self.open.pop("restore")
            error = rec.get("error_type")
            label = f"restore {_ms(t - start)}" + (f" ({error})" if error else "")
            self.add(Span(ROW_SANDBOX, label, start, t, "restore-failed" if error else "restore"))

    def on_snapshot(self, rec: Mapping[str, Any], t: float) -> None:
        """SnapStart's checkpoint at INIT's end (recorded when done, with its duration)."""
        took = rec.get("duration_ms")
        if isinstance(took, int | float):
            self.add(Span(ROW_SANDBOX, f"snapshot {_ms(took)}", t - took, t, "snapshot"))

    def on_shutdown_start(self, rec: Mapping[str, Any], t: float) -> None:
        self.close_frozen(t)
        self.open["shutdown"] = (t, rec)

    def on_shutdown_end(self, rec: Mapping[str, Any], t: float) -> None:
        if "shutdown" in self.open:
            start, _ = self.open.pop("shutdown")
            label = f"SHUTDOWN ({rec.get('reason', '?')})"
            self.add(Span(ROW_SANDBOX, label, start, t, "shutdown"))

    def on_log(self, rec: Mapping[str, Any], t: float) -> None:
        read_ms = float(rec.get("ts", 0.0)) * 1000
        parsed = parse_line(str(rec.get("source")), str(rec.get("line", "")), read_ms)
        if parsed is None:
            return
        self.saw_json = True
        owner = self.init_at(t)
        if isinstance(parsed, InvocationWaited):
            self.waited.append(parsed)
        elif owner is None:
            return
        elif isinstance(parsed, InitsSettled):
            if owner.settled is None:
                owner.settled = parsed
        else:
            owner.ext_events.append(parsed)

    def init_at(self, t: float) -> _Init | None:
        """The INIT that was last started at ``t``: lines about inits belong to it."""
        started = [init for init in self.inits if init.start <= t]
        return started[-1] if started else None

    # ------------------------------------------------------------------------------ spans

    def add(self, span: Span) -> Span:
        self.rows.setdefault(span.row, None)
        self.spans.append(span)
        return span

    def timeline(self, title: str) -> Timeline:
        for init in self.inits:
            self.init_spans(init)
        for number, inv in enumerate(self.invocations, 1):
            self.invocation_spans(number, inv)
        paths = [_critical_path(init) for init in self.inits if init.end is not None]
        notes = [] if any(init.settled for init in self.inits) else [NO_INIT_DETAIL]
        # Rows in the order a reader follows INIT: the sandbox, who starts first, the inits,
        # then the invocations.
        order = [ROW_SANDBOX]
        order += [r for r in self.rows if r.startswith("extension ")]
        order += [r for r in self.rows if r == ROW_RUNTIME]
        order += [r for r in self.rows if r.startswith("init ")]
        order += [r for r in self.rows if r not in order]
        starts = [s.start_ms for s in self.spans] or [0.0]
        ends = [s.end_ms for s in self.spans] + [self.last_ms]
        return Timeline(
            title=title,
            rows=order,
            spans=self.spans,
            markers=self.markers,
            init_ends=[init.end for init in self.inits if init.end is not None],
            critical_paths=paths,
            notes=notes,
            start_ms=min(starts),
            end_ms=max(ends),
        )

    def init_spans(self, init: _Init) -> None:
        end = init.end if init.end is not None else self.last_ms
        status = init.status or "unfinished"
        label = "INIT" if init.phase == "init" else "INIT (inside an invocation)"
        label += f" {_ms(end - init.start)}" + ("" if status == "success" else f" ({status})")
        kind = "init-phase" if status == "success" else "init-failed"
        init.spans["init"] = self.add(Span(ROW_SANDBOX, label, init.start, end, kind))
        for name, started in init.ext_start.items():
            self.extension_spans(init, name, started, end)
        self.runtime_spans(init, end)
        if init.settled is not None:
            for detail in init.settled.inits:
                self.init_detail_spans(init, detail)

    def extension_spans(self, init: _Init, name: str, started: float, end: float) -> None:
        row = f"extension {name}"
        registered = init.ext_register.get(name)
        if registered is None:
            init.spans[f"start:{name}"] = self.add(
                Span(row, "start (never registered)", started, end, "ext-failed")
            )
            return
        init.spans[f"start:{name}"] = self.add(
            Span(row, "start → register", started, registered, "ext-start")
        )
        nxt = init.ext_next.get(name, end)
        events = [e for e in init.ext_events if e.extension == name]
        report = next((e for e in events if e.event == "report_received"), None)
        ended = next((e for e in events if e.event == "hold_ended"), None)
        report_t = self.t(report.at_ms) if report is not None else None
        if report_t is not None and registered <= report_t <= nxt:
            init.spans[f"hold:{name}"] = self.add(
                Span(row, "holds INIT", registered, report_t, "ext-hold", _held(ended))
            )
            init.spans[f"release:{name}"] = self.add(
                Span(row, "report → next", report_t, nxt, "ext-release")
            )
            init.report = Marker(row, "report", report_t, "report")
            self.markers.append(init.report)
        elif ended is not None and ended.held_ms:
            init.spans[f"hold:{name}"] = self.add(
                Span(row, "holds INIT (no report)", registered, nxt, "ext-hold", _held(ended))
            )
        else:
            init.spans[f"hold:{name}"] = self.add(
                Span(row, "register → next", registered, nxt, "ext-wait")
            )

    def runtime_spans(self, init: _Init, end: float) -> None:
        started = init.runtime_start
        if started is None:
            return
        self.rows.setdefault(ROW_RUNTIME, None)
        nxt = init.runtime_next if init.runtime_next is not None else end
        settled = init.settled
        imported = None
        if settled is not None and settled.import_done_ms is not None:
            imported = self.t(settled.import_done_ms)
        if imported is not None and started <= imported <= nxt:
            init.spans["import"] = self.add(
                Span(ROW_RUNTIME, "start + import", started, imported, "runtime-import")
            )
            init.spans["next"] = self.add(Span(ROW_RUNTIME, "→ next", imported, nxt, "runtime"))
        else:
            label = "start + import → next" if init.runtime_next is not None else "start"
            init.spans["import"] = self.add(
                Span(ROW_RUNTIME, label, started, nxt, "runtime-import")
            )

    def init_detail_spans(self, init: _Init, detail: InitDetail) -> None:
        row = f"init {detail.name}" + ("" if detail.required else " (optional)")
        spans: list[Span] = []
        summary = f"{detail.status}, {detail.attempts or '?'} attempt(s)"
        if detail.duration_ms is not None:
            summary += f", {_ms(detail.duration_ms)}"
        if detail.error:
            summary += f": {detail.error}"
        attempts = detail.attempt_spans
        if not attempts and detail.started_ms is not None and detail.duration_ms is not None:
            attempts = ((detail.started_ms, detail.started_ms + detail.duration_ms),)
        failed = detail.status not in ("ok", "success")
        previous_end: float | None = None
        for number, (start, stop) in enumerate(attempts, 1):
            start_t, stop_t = self.t(start), self.t(stop)
            if previous_end is not None and start_t > previous_end:
                spans.append(
                    self.add(Span(row, "backoff", previous_end, start_t, "backoff", summary))
                )
            last = number == len(attempts)
            label = f"attempt {number}" if len(attempts) > 1 else detail.name
            kind = "attempt-failed" if (not last or failed) else "attempt"
            spans.append(self.add(Span(row, label, start_t, stop_t, kind, summary)))
            previous_end = stop_t
        init.init_spans[detail.name] = spans
        waits = init.init_waits.setdefault(detail.name, [])
        for wait in detail.waits:
            span = self.add(
                Span(
                    row,
                    f"awaits {wait.on}",
                    self.t(wait.start_ms),
                    self.t(wait.end_ms),
                    "wait",
                    f"awaited init {wait.on} for {_ms(wait.end_ms - wait.start_ms)}",
                    overlay=True,
                )
            )
            waits.append((span, wait.on, span.end_ms))

    def invocation_spans(self, number: int, inv: _Invocation) -> None:
        end = inv.end if inv.end is not None else self.last_ms
        status = str(inv.fields.get("status", "unfinished"))
        label = f"invoke {number} {_ms(end - inv.start)}"
        if status != "success":
            label += f" ({status})"
        kind = "invoke" if status == "success" else "invoke-failed"
        self.add(Span(ROW_INVOCATIONS, label, inv.start, end, kind, f"request {inv.request_id}"))
        if inv.handed is not None:
            answered = inv.answered if inv.answered is not None else end
            self.add(Span(ROW_RUNTIME, f"handler {number}", inv.handed, answered, "handler"))
            done = inv.fields.get("extensions_done_ms") or {}
            for name, ms in done.items() if isinstance(done, dict) else ():
                row = f"extension {name}"
                self.add(Span(row, "INVOKE", inv.handed, inv.handed + float(ms), "ext-invoke"))
        for waited in self.waited:
            start = self.t(waited.start_ms)
            if inv.start <= start <= end:
                names = ", ".join(waited.inits) or "inits"
                self.add(
                    Span(
                        ROW_RUNTIME,
                        f"waited for {names}",
                        start,
                        self.t(waited.end_ms),
                        "waited",
                        f"invocation {number} waited {_ms(waited.end_ms - waited.start_ms)} "
                        f"for {names}",
                        overlay=True,
                    )
                )


# ------------------------------------------------------------------------- critical path


def _critical_path(init: _Init) -> list[Span | Marker]:
    """The spans that decided when ``init`` ended (see the module's docstring), marked."""
    chosen: list[Span | Marker] = []

    def take(item: Span | Marker | None) -> None:
        if item is not None and not item.critical:
            item.critical = True
            chosen.append(item)

    nexts = {f"extension {n}": t for n, t in init.ext_next.items()}
    if init.runtime_next is not None:
        nexts[ROW_RUNTIME] = init.runtime_next
    if not nexts:
        return []
    last = max(nexts, key=lambda who: nexts[who])
    if last == ROW_RUNTIME:
        take(init.spans.get("import"))
        take(init.spans.get("next"))
    else:
        name = last.removeprefix("extension ")
        release = init.spans.get(f"release:{name}")
        if release is None or init.settled is None:
            take(init.spans.get(f"hold:{name}"))
            take(init.spans.get(f"start:{name}"))
            return _in_order(chosen)
        take(release)
        take(init.report)
        _critical_inits(init, take)
        take(init.spans.get("import"))
    if init.ext_register:
        first_to_wait = max(init.ext_register, key=lambda n: init.ext_register[n])
        take(init.spans.get(f"start:{first_to_wait}"))
    return _in_order(chosen)


def _critical_inits(init: _Init, take: Callable[[Span | Marker | None], None]) -> None:
    """The init that settled last and, through its waits, the inits it waited for."""
    ends = {name: max(s.end_ms for s in spans) for name, spans in init.init_spans.items() if spans}
    imported = init.spans.get("import")
    if not ends or (imported is not None and imported.end_ms > max(ends.values())):
        return  # the report waited for the import, not for an init
    seen: set[str] = set()

    def chain(name: str, until: float) -> None:
        if name in seen:
            return
        seen.add(name)
        for span in init.init_spans.get(name, []):
            if span.start_ms < until:
                take(span)
        for wait, on, wait_end in init.init_waits.get(name, []):
            if wait.start_ms < until:
                take(wait)
                chain(on, wait_end)

    chain(max(ends, key=lambda n: ends[n]), float("inf"))


def _in_order(items: Iterable[Span | Marker]) -> list[Span | Marker]:
    """In time order, overlays (drawn over a critical span) left out of the list."""
    kept = [i for i in items if not (isinstance(i, Span) and i.overlay)]
    return sorted(kept, key=lambda i: (i.start_ms, i.end_ms))


# ------------------------------------------------------------------------------- helpers


def _epoch_offset(records: Sequence[Mapping[str, Any]]) -> float:
    """Epoch ms minus the records' ms: the median over the records, which carry both."""
    offsets = [
        float(r["ts"]) * 1000 - float(r["t_ms"]) for r in records if "ts" in r and "t_ms" in r
    ]
    return statistics.median(offsets) if offsets else 0.0


def _held(ended: ExtensionEvent | None) -> str:
    if ended is None or ended.held_ms is None:
        return ""
    return f"held INIT {_ms(ended.held_ms)}"


def format_ms(ms: float) -> str:
    """A duration as a label says it: ``4.2 ms``, ``612 ms``, ``3600.4 s``."""
    if abs(ms) >= 10_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms:.1f} ms" if abs(ms) < 10 else f"{ms:.0f} ms"


_ms = format_ms
