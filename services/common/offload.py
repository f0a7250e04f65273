"""CPU-heavy calls off the eventlet hub, a few at a time.

Under `nameko run` every worker of a process shares one eventlet hub: a call that
holds the CPU for 300 ms (an Argon2 password check) stops every other request of
that process for as long, and under a sign-in burst the queued calls miss their
deadlines (measured: bench/load_test.py, docs/performance.md). Such a call runs
in eventlet's thread pool instead; the C code releases the GIL, so the hub keeps
serving. Outside eventlet (unit tests, command-line tools) it is a plain call.

`Gate` bounds how many such calls run at once (by default one per core). Without
it a burst of 20 sign-ins ran 20 Argon2 checks side by side (20 × 64 MiB, 4 native
threads each) on 2 cores: every one finished only after ~11 s, so all of them
missed the caller's 5 s deadline, each having burnt its CPU for nothing (the
load test's 504s on POST /auth/login). Behind the gate they finish one after
another in arrival order, and one whose caller's deadline passed while it waited
is dropped before it starts (services.common.deadlines), not computed.
"""
from __future__ import annotations

import os
import threading
from typing import Callable, TypeVar

T = TypeVar("T")


def _monkey_patched() -> bool:
    import eventlet.patcher
    return eventlet.patcher.is_monkey_patched("socket")


def blocking(fn: Callable[..., T], *args, **kwargs) -> T:
    if not _monkey_patched():
        return fn(*args, **kwargs)
    from eventlet import tpool
    return tpool.execute(fn, *args, **kwargs)


class Gate:
    """At most `size` calls through `run` at once in this process (QI_CPU_GATE_<NAME>, else the cores)."""

    def __init__(self, name: str, size: int | None = None):
        self.name = name
        self.size = size or int(os.environ.get(f"QI_CPU_GATE_{name.upper()}", "0") or 0) or (os.cpu_count() or 2)
        self._semaphore = None
        self._lock = threading.Lock()

    def _slots(self):
        # Made on first use, so a process monkey-patched after import gets a green semaphore
        # (a greenlet waiting for a slot yields to the hub instead of blocking it).
        if self._semaphore is None:
            with self._lock:
                if self._semaphore is None:
                    if _monkey_patched():
                        from eventlet.semaphore import Semaphore
                        self._semaphore = Semaphore(self.size)
                    else:
                        self._semaphore = threading.BoundedSemaphore(self.size)
        return self._semaphore

    def run(self, fn: Callable[..., T], *args, **kwargs) -> T:
        from . import deadlines
        with self._slots():
            deadlines.check(f"{self.name}_gate")   # the caller gave up while this waited: don't compute
            return blocking(fn, *args, **kwargs)
