"""The caller's deadline, context-local to the worker that acts for it.

The gateway puts an epoch deadline (a little before its own RPC timeout) into
nameko context data (`qi.deadline`); the RPC entrypoint drops a request picked
up after it (services.common.nameko_ext), and `Database.transaction` rolls back
instead of committing after it, so a 504 at the gateway means "not done".
Deadlines are epoch seconds: hosts must keep their clocks synchronised (NTP).
"""
from __future__ import annotations

import contextvars
import time

from prometheus_client import Counter

from .errors import DeadlineExceeded

EXPIRED = Counter("qi_rpc_expired_total", "Requests given up because the caller's deadline had passed",
                  ["service", "method", "stage"])

# (deadline epoch seconds, service, method); greenlets each have their own context.
_current: contextvars.ContextVar[tuple[float, str, str] | None] = contextvars.ContextVar("qi_deadline", default=None)


def parse(value) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def activate(deadline: float | None, service: str = "?", method: str = "?"):
    return _current.set((deadline, service, method) if deadline is not None else None)


def reset(token) -> None:
    _current.reset(token)


def remaining() -> float | None:
    current = _current.get()
    return None if current is None else current[0] - time.time()


def expired_error() -> DeadlineExceeded:
    return DeadlineExceeded("The caller's deadline passed; nothing was done / 调用方时限已过，未执行任何操作")


def check(stage: str) -> None:
    """Raise DeadlineExceeded (and count it) if the active deadline has passed."""
    current = _current.get()
    if current is not None and time.time() >= current[0]:
        EXPIRED.labels(current[1], current[2], stage).inc()
        raise expired_error()
