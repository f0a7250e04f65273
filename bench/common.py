"""What every benchmark shares: its own broker vhost, the machine line, percentiles.

A benchmark runs on a vhost of its own (created with rabbitmqctl as tests/conftest.py
does, deleted afterwards), so a platform already running on the same broker cannot
answer its RPCs or consume its events. Without rabbitmqctl (or without the right to
add a vhost) it says so and falls back to the configured URI's vhost.
"""
from __future__ import annotations

import contextlib
import os
import platform as _platform
import shutil
import socket
import subprocess
import uuid
from urllib.parse import urlsplit, urlunsplit


def rabbitmqctl(*args: str) -> bool:
    command = os.environ.get("QI_RABBITMQCTL", "rabbitmqctl").split()
    if not shutil.which(command[0]):
        return False
    try:
        return subprocess.run([*command, "-q", *args], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def with_vhost(amqp_uri: str, vhost: str) -> str:
    parts = urlsplit(amqp_uri)
    return urlunsplit((parts.scheme, parts.netloc, "/" + vhost, parts.query, parts.fragment))


@contextlib.contextmanager
def own_vhost(amqp_uri: str, prefix: str = "qi-bench"):
    """Yield an AMQP URI on a fresh vhost (deleted on exit), or the given URI if none can be made."""
    vhost = f"{prefix}-{uuid.uuid4().hex[:8]}"
    user = urlsplit(amqp_uri).username or "guest"
    if rabbitmqctl("add_vhost", vhost) and rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*"):
        print(f"broker vhost: {vhost} (own, deleted afterwards)")
        try:
            yield with_vhost(amqp_uri, vhost)
        finally:
            rabbitmqctl("delete_vhost", vhost)
    else:
        rabbitmqctl("delete_vhost", vhost)
        print("broker vhost: the configured one (rabbitmqctl unavailable: another platform on this vhost "
              "could answer the benchmark's RPCs)")
        yield amqp_uri


def machine_line(title: str) -> str:
    load = ""
    with contextlib.suppress(OSError):
        load = " · load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{title} · {os.cpu_count()} cores · {_platform.python_implementation()} "
            f"{_platform.python_version()}{load}\n"
            "  (figures from a shared machine are noisy: compare the ratios printed in the same run)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; 0 elsewhere)."""
    from pathlib import Path
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def broker_pid() -> int | None:
    """RabbitMQ's Erlang VM on this machine, if it runs here (its CPU is part of every figure)."""
    import subprocess as sp
    try:
        out = sp.run(["pgrep", "-f", "beam.smp.*rabbit"], capture_output=True, text=True, timeout=5).stdout.split()
    except (OSError, sp.TimeoutExpired):
        return None
    return int(out[0]) if out else None


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]
