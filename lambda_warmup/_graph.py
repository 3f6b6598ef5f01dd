"""Who waits for whom among running inits, so that a cycle is an error instead of a hang."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Protocol

from .exceptions import InitCycleError


class _Node(Protocol):
    @property
    def name(self) -> str: ...


class WaitGraph:
    """Edges ``waiter -> awaited`` for every wait in progress; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._edges: dict[_Node, Counter[_Node]] = {}

    def enter(self, waiter: _Node, awaited: _Node) -> None:
        """Record that ``waiter`` now waits for ``awaited``, or raise ``InitCycleError``."""
        with self._lock:
            path = self._path(awaited, waiter)
            if path is not None:
                names = [waiter.name, *(node.name for node in path)]
                if len(names) == 2 and names[0] == names[1]:
                    message = f"init '{waiter.name}' awaits its own handle"
                else:
                    message = "inits await each other in a cycle: " + " -> ".join(names)
                raise InitCycleError(message, names)
            self._edges.setdefault(waiter, Counter())[awaited] += 1

    def leave(self, waiter: _Node, awaited: _Node) -> None:
        with self._lock:
            targets = self._edges.get(waiter)
            if targets is None:
                return
            targets[awaited] -= 1
            if targets[awaited] <= 0:
                del targets[awaited]
            if not targets:
                del self._edges[waiter]

    def _path(self, start: _Node, goal: _Node) -> list[_Node] | None:
        """Nodes from ``start`` to ``goal`` along wait edges (both included), if any."""
        stack: list[list[_Node]] = [[start]]
        seen: set[_Node] = set()
        while stack:
            path = stack.pop()
            node = path[-1]
            if node is goal:
                return path
            if node in seen:
                continue
            seen.add(node)
            stack.extend([*path, nxt] for nxt in self._edges.get(node, ()))
        return None
