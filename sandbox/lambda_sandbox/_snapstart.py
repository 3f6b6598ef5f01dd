"""SnapStart snapshots: INIT's process tree checkpointed once, a new environment from it each time.

When a SnapStart INIT ends, the runtime is parked in ``restore/next`` and each extension in
``event/next``. Those requests are handed over with their connections (``Detach``) to the
namespace init, so that both ends are inside the tree; the tree is frozen, its connections to
peers outside it are cut, and ``criu dump`` writes the tree out and ends it. Each restore makes a
new tree from the images, runs it, and hands the connections back to the API server, which
answers them as if they had never left (see ``_snapshot.py`` for the namespace and CRIU's side).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ._criu import Criu
from ._extensions_api import Extension, ExtensionsApi
from ._http import Detach, HttpServer, Request, Response
from ._phase import Lifecycle
from ._processes import ProcessGroup
from ._records import Recorder
from ._runtime_api import RuntimeApi
from ._snapshot import Checkpoint, Namespace, NsProcess, SnapshotError

__all__ = ["Snapshot", "Snapshots"]

_Detached = dict[str, tuple[socket.socket, Request]]
"""Connections given away unanswered, with their requests, by tag (``runtime`` or an
extension's id)."""


@dataclass(frozen=True)
class Snapshot:
    """A SnapStart snapshot: the images, and the sandbox's side of the state they froze."""

    checkpoint: Checkpoint
    requests: dict[str, Request]
    """The requests the processes were blocked in, by tag (``runtime``, or an extension id)."""
    extensions: list[Extension]
    tmp_dir: Path
    """A copy of /tmp as INIT left it: every restored environment starts from it."""


class Snapshots:
    """Takes the one snapshot at INIT's end, and restores environments from it."""

    def __init__(
        self,
        lifecycle: Lifecycle,
        recorder: Recorder,
        group: ProcessGroup,
        runtime: RuntimeApi,
        extensions: ExtensionsApi,
        server: HttpServer,
        *,
        images_dir: Path,
        tmp_dir: Path,
    ) -> None:
        self._lifecycle = lifecycle
        self._cv = lifecycle.cv
        self._recorder = recorder
        self._group = group
        self._runtime = runtime
        self._extensions = extensions
        self._server = server
        self._images_dir = images_dir
        self._tmp_dir = tmp_dir
        self.snapshot: Snapshot | None = None
        self._detached: _Detached = {}

    # ------------------------------------------------------------------------------ checkpoint

    def take(self, criu: Criu, end_processes: Callable[[], object]) -> SnapshotError | None:
        """End INIT's tree with a checkpoint; the parked requests go into it. On failure the
        tree runs on, its requests answered live, and the error is returned."""
        namespace = self._group.namespace
        assert namespace is not None
        start = time.monotonic()
        detached, missing = self._detach_parked_requests()
        connections = {tag: conn for tag, (conn, _) in detached.items()}
        with self._cv:
            procs = list(self._group.procs)
            extensions = list(self._extensions.extensions.values())
        for proc in procs:  # CRIU ends them after the dump
            proc.checkpointed = True
        try:
            if missing:
                raise SnapshotError(f"not blocked in next: {missing}")
            checkpoint = namespace.checkpoint(criu, self._images_dir, connections)
        except SnapshotError as exc:
            for proc in procs:
                proc.checkpointed = False
            self._recorder.record("snapshot_error", error=str(exc))
            self._run_on(namespace, detached)
            return exc
        for conn in connections.values():
            conn.close()  # the namespace init held the other reference: it is in the images
        cut = namespace.cut_connections
        end_processes()
        tmp_copy = self._images_dir.with_name("snapshot-tmp")
        shutil.copytree(self._tmp_dir, tmp_copy, symlinks=True)
        with self._cv:
            self.snapshot = Snapshot(
                checkpoint=checkpoint,
                requests={tag: request for tag, (_, request) in detached.items()},
                extensions=extensions,
                tmp_dir=tmp_copy,
            )
        self._recorder.record(
            "snapshot",
            duration_ms=round((time.monotonic() - start) * 1000, 3),
            freeze_ms=checkpoint.freeze_ms,
            dump_ms=checkpoint.dump_ms,
            size_bytes=checkpoint.size_bytes,
            processes=sorted(checkpoint.ns_pids),
            cut_connections=sorted(cut),
            cut_by=cut,
        )
        return None

    def on_detach(self, tag: str, conn: socket.socket, request: Request) -> None:
        """The API server's callback for a request given away (``Detach``)."""
        with self._cv:
            self._detached[tag] = (conn, request)
            self._cv.notify_all()

    def _detach_parked_requests(self) -> tuple[_Detached, list[str]]:
        """Have the parked ``restore/next`` and ``event/next`` give their connections away;
        returns them by tag, and the tags that did not come in time."""
        with self._cv:
            self._lifecycle.detaching = True
            self._detached = {}
            expected = {"runtime", *self._extensions.extensions}
            self._cv.notify_all()
            self._lifecycle.wait(lambda: expected <= set(self._detached), time.monotonic() + 2.0)
            self._lifecycle.detaching = False
            detached, self._detached = self._detached, {}
        return detached, sorted(expected - set(detached))

    def _run_on(self, namespace: Namespace, detached: _Detached) -> None:
        """The checkpoint failed: take the requests back and answer them live."""
        with contextlib.suppress(SnapshotError):
            for held in namespace.release().values():
                held.close()  # a copy of one of ours
        for tag, (conn, request) in detached.items():
            self._server.adopt(conn, request, self.resume(tag, self._lifecycle.gen))

    # --------------------------------------------------------------------------------- restore

    def restore(self, criu: Criu, number: int, track: Callable[[str, NsProcess], None]) -> None:
        """A new environment from the snapshot: /tmp, the processes (each given to ``track``),
        and the requests they were parked in. Raises ``SnapshotError`` if CRIU fails."""
        snapshot = self.snapshot
        assert snapshot is not None
        shutil.rmtree(self._tmp_dir, ignore_errors=True)
        shutil.copytree(snapshot.tmp_dir, self._tmp_dir, symlinks=True)
        start = time.monotonic()
        namespace, procs = Namespace.restore(criu, snapshot.checkpoint, f"restore-{number}")
        with self._cv:
            gen = self._lifecycle.next_generation()
            self._group.adopt_namespace(namespace)
            self._extensions.extensions = {
                e.id: replace(e, waiting=True, events_queue=deque(), handling=None)
                for e in snapshot.extensions
            }
            self._runtime.reset_for_restore()
        self._group.track("nsinit", "keeper", namespace.root)
        for name, popen in procs.items():
            track(name, popen)
        for tag, conn in namespace.release().items():
            self._server.adopt(conn, snapshot.requests[tag], self.resume(tag, gen))
        self._recorder.record(
            "snapshot_restored",
            restore=number,
            criu_ms=round((time.monotonic() - start) * 1000, 3),
            pids={name: proc.pid for name, proc in procs.items()},
        )

    def resume(self, tag: str, gen: int) -> Callable[[], Response | Detach | None]:
        """What answers a parked request handed back after a restore (or a failed checkpoint)."""

        def answer() -> Response | Detach | None:
            with self._cv:
                if tag == "runtime":
                    return self._runtime.await_restore(gen)
                ext = self._extensions.extensions.get(tag)
                return None if ext is None else self._extensions.await_event(ext, gen)

        return answer
