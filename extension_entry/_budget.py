"""How long the hold may last: a pure decision, settings in, deadline and reason out.

On-demand, Lambda's whole Init (extensions, runtime, function init) must end within 10 s, or
Lambda resets the environment and runs a billed, "suppressed" init again inside the first
invocation. So the hold ends at the latest :data:`INIT_LIMIT_MARGIN_MS` (500 ms) before 10 s
after the extension's own process start. The margin covers what happens outside our clock or
after our deadline: work Lambda does before it starts the extensions (not documented), the
wake-up and ``event/next`` round trip on a function starved of CPU (128 MB gets a fraction of a
vCPU), the runtime's own ``next`` and the timer resolution of the start instant (10 ms when it
comes from ``/proc``). LWA's async-init mode cuts at 9.8 s from its own start; we keep more slack
because a miss costs a whole second init, while 300 ms more of hold buys little.

Provisioned concurrency, SnapStart and Lambda Managed Instances allow max(130 s, function
timeout). The extension cannot learn the function timeout during Init (Lambda does not expose
it; ``deadlineMs`` only comes with events), so the hold is capped at 130 s minus the same margin,
which is always within the limit.
"""

from __future__ import annotations

from . import _settings as s
from ._protocol import LONG_INIT_LIMIT_S, ON_DEMAND_INIT_LIMIT_S

ON_DEMAND_INIT_LIMIT_MS = ON_DEMAND_INIT_LIMIT_S * 1000.0
LONG_INIT_LIMIT_MS = LONG_INIT_LIMIT_S * 1000.0
INIT_LIMIT_MARGIN_MS = 500.0


class HoldPlan:
    """``budget_ms`` is measured from the process start; ``timeout_ms`` from the hold's start."""

    __slots__ = ("budget_ms", "limit_text", "reason", "timeout_ms")

    def __init__(
        self, timeout_ms: float, budget_ms: float, limit_text: str, reason: str | None
    ) -> None:
        self.timeout_ms = timeout_ms
        self.budget_ms = budget_ms
        self.limit_text = limit_text
        #: Why there is no hold, or ``None`` when there is one.
        self.reason = reason

    @property
    def holds(self) -> bool:
        return self.reason is None


def plan_hold(settings: s.Settings, *, listening: bool) -> HoldPlan:
    """The hold ``settings`` ask for, within the INIT limit of their initialization type."""
    if settings.init_type == s.ON_DEMAND:
        limit_ms = settings.init_limit_ms or ON_DEMAND_INIT_LIMIT_MS
        kind = "on-demand"
        limit_text = f"{kind} INIT limit {limit_ms:.0f} ms"
    else:
        limit_ms = LONG_INIT_LIMIT_MS
        kind = settings.init_type
        limit_text = f"{kind} INIT limit max({LONG_INIT_LIMIT_S} s, function timeout)"
    budget_ms = max(0.0, limit_ms - INIT_LIMIT_MARGIN_MS)
    limit_text = f"{limit_text}, budget {budget_ms:.0f} ms from process start"
    reason = None
    if not settings.timeout_valid:
        reason = f"{s.WARMING_TIMEOUT} is invalid (see above)"
    elif not settings.timeout_raw:
        reason = f"{s.WARMING_TIMEOUT} is unset"
    elif settings.timeout_ms <= 0:
        reason = f"{s.WARMING_TIMEOUT}={settings.timeout_raw}"
    elif not listening:
        reason = "no report listener (see above)"
    return HoldPlan(settings.timeout_ms, budget_ms, limit_text, reason)
