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
