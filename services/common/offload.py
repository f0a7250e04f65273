"""CPU-heavy calls off the eventlet hub.

Under `nameko run` every worker of a process shares one eventlet hub: a call that
holds the CPU for 300 ms (an Argon2 password check) stops every other request of
that process for as long, and under a sign-in burst the queued calls miss their
deadlines (measured: bench/load_test.py, docs/performance.md). Such a call runs
in eventlet's thread pool instead; the C code releases the GIL, so the hub keeps
serving. Outside eventlet (unit tests, command-line tools) it is a plain call.
"""
from __future__ import annotations

from typing import Callable, TypeVar

T = TypeVar("T")


def blocking(fn: Callable[..., T], *args, **kwargs) -> T:
    import eventlet.patcher
    if not eventlet.patcher.is_monkey_patched("socket"):
        return fn(*args, **kwargs)
    from eventlet import tpool
    return tpool.execute(fn, *args, **kwargs)
