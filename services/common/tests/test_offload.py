"""services.common.offload: a CPU-heavy call under eventlet does not stop the hub."""
from __future__ import annotations

import subprocess
import sys
import textwrap


def test_plain_call_outside_eventlet():
    from services.common.offload import blocking
    assert blocking(sum, [1, 2, 3]) == 6


def test_other_green_threads_run_while_an_argon2_hash_is_computed():
    # In a fresh, monkey-patched interpreter (as `nameko run` is): a ticker green thread must
    # keep ticking while two hashes run; called on the hub, it would tick not at all meanwhile.
    script = textwrap.dedent("""
        import eventlet
        eventlet.monkey_patch()
        import time
        from argon2 import PasswordHasher
        from services.common.offload import blocking
        hasher = PasswordHasher(time_cost=8)
        ticks = []
        def ticker():
            while True:
                ticks.append(time.monotonic()); eventlet.sleep(0.005)
        eventlet.spawn(ticker)
        eventlet.sleep(0.02)
        before = len(ticks)
        started = time.monotonic()
        blocking(hasher.hash, "a password")
        blocking(hasher.hash, "another")
        took = time.monotonic() - started
        print(len(ticks) - before, round(took, 3))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         cwd=str(__import__("pathlib").Path(__file__).resolve().parents[3]))
    assert out.returncode == 0, out.stderr
    ticked, took = out.stdout.split()
    # At least a few ticks per 100 ms of hashing (a blocked hub gives 0 or 1).
    assert int(ticked) >= max(3, int(float(took) * 10)), out.stdout


def test_gate_runs_at_most_its_size_at_once_in_arrival_order_and_drops_expired_waiters():
    # Monkey-patched, as under `nameko run`: 6 green threads through a gate of 2 each run a
    # 50 ms native call; never more than 2 inside at once, started in arrival order; a waiter
    # whose caller's deadline passed while it queued is dropped without running its call.
    script = textwrap.dedent("""
        import eventlet
        eventlet.monkey_patch()
        import threading, time
        from services.common import deadlines
        from services.common.errors import DeadlineExceeded
        from services.common.offload import Gate
        gate, lock, inside, most, order, ran = Gate("test", size=2), threading.Lock(), [0], [0], [], []
        def work(n):
            with lock:
                inside[0] += 1; most[0] = max(most[0], inside[0]); ran.append(n)
            time.sleep(0.05)
            with lock:
                inside[0] -= 1
            return n
        def caller(n, deadline=None):
            token = deadlines.activate(deadline, "test", "caller")
            try:
                order.append(gate.run(work, n))
            except DeadlineExceeded:
                order.append(f"dropped {n}")
            finally:
                deadlines.reset(token)
        threads = [eventlet.spawn(caller, n) for n in range(6)]
        late = eventlet.spawn(caller, 99, time.time() + 0.03)   # queued behind 6 × 50 ms / 2
        for t in threads + [late]:
            t.wait()
        done = ",".join(str(n) for n in order if isinstance(n, int))
        # Arrival order: the first two take the slots; the last to arrive starts among the last two.
        print(most[0], done, set(ran[:2]) == {0, 1} and ran.index(5) >= 4, [n for n in order if isinstance(n, str)] == ["dropped 99"],
              99 in ran, gate.size)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         cwd=str(__import__("pathlib").Path(__file__).resolve().parents[3]))
    assert out.returncode == 0, out.stderr
    most, done, in_order, dropped, late_ran, size = out.stdout.split()
    assert most == "2" and sorted(done.split(",")) == list("012345") and in_order == "True"
    assert dropped == "True" and late_ran == "False" and size == "2"


def test_gate_size_defaults_to_the_cores_and_is_configurable(monkeypatch):
    import os

    from services.common.offload import Gate
    assert Gate("x").size == (os.cpu_count() or 2)
    monkeypatch.setenv("QI_CPU_GATE_ARGON2", "3")
    assert Gate("argon2").size == 3
    assert Gate("argon2").run(sum, [1, 2]) == 3      # outside eventlet: a plain call behind a lock
