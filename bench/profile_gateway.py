"""Where the time of an authenticated read crossing one RPC goes (GET /api/v1/me).

Prints figures, asserts nothing. On a broker vhost of its own (bench/common.py):

1. The whole platform as README's run command starts it, with the gateway and identity
   processes each run under pyinstrument (wall-clock sampling of the eventlet main
   thread, started and stopped by signals around the measured load only). The samples
   are put into categories (HTTP server, routing and validation, token verification,
   revocation check, JSON, AMQP publish, reply handling, eventlet scheduling, database,
   idle in the hub ...) by the innermost frame that names one, and printed as shares of
   each process's busy time. The pyinstrument text reports are written beside them.
2. Latency of the same read, broken down by subtraction in one run (8 clients):
   raw kombu request/reply (floor) · nameko RPC to a service that answers at once
   (bench/rpc_echo.py) with publisher confirms on the request, and without · the
   gateway's GET /api/v1/me.
3. In-process costs of single steps: token verification (EdDSA), the revocation check,
   JSON of the /me payload.

    .venv/bin/python bench/profile_gateway.py [--quick] [--requests 1500] [--concurrency 8]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# Categories by the innermost frame that matches: (label, path fragment, function or None).
CATEGORIES = [
    ("revocation check", "services/common/caller.py", "is_revoked"),
    ("revocation check", "services/gateway/service.py", "_is_revoked"),
    ("token verification (EdDSA, PyJWT)", "/jwt/", None),
    ("token verification (EdDSA, PyJWT)", "/cryptography/", None),
    ("token verification (EdDSA, PyJWT)", "services/common/caller.py", None),
    ("JSON encode/decode", "/json/", None),
    ("JSON encode/decode", "kombu/serialization.py", None),
    ("metrics (prometheus_client)", "/prometheus_client/", None),
    ("logging", "/logging/", None),
    ("database (SQLAlchemy, driver)", "/sqlalchemy/", None),
    ("database (SQLAlchemy, driver)", "/sqlite3/", None),
    ("database (SQLAlchemy, driver)", "/psycopg2/", None),
    ("marshmallow (load/dump)", "/marshmallow/", None),
    ("idle: eventlet hub waiting for I/O", "eventlet/hubs/", "wait"),
    ("AMQP publish (kombu/py-amqp out, confirms)", "kombu/messaging.py", None),
    ("AMQP publish (kombu/py-amqp out, confirms)", "nameko/amqp/publish.py", None),
    ("AMQP publish (kombu/py-amqp out, confirms)", "amqp/method_framing.py", "_write_frame"),
    ("AMQP publish (kombu/py-amqp out, confirms)", "amqp/serialization.py", "_serialize_properties"),
    ("AMQP in: frames, consumer, reply handling", "amqp/", None),
    ("AMQP in: frames, consumer, reply handling", "kombu/", None),
    ("AMQP in: frames, consumer, reply handling", "nameko/rpc.py", None),
    ("AMQP in: frames, consumer, reply handling", "nameko/messaging.py", None),
    ("nameko container, workers, context", "/nameko/", None),
    ("HTTP server (eventlet.wsgi, werkzeug)", "eventlet/wsgi.py", None),
    ("HTTP server (eventlet.wsgi, werkzeug)", "/werkzeug/", None),
    ("gateway routing and problem+json", "services/gateway/", None),
    ("service domain code", "services/", None),
    ("eventlet scheduling (greenlet switches, timers)", "/eventlet/", None),
    ("eventlet scheduling (greenlet switches, timers)", "/greenlet/", None),
]

IDLE_LEAVES = {"epoll.poll", "poll.poll", "select.select", "select", "poll"}
SOCKET_LEAVES = {"socket.send", "socket.sendall", "socket.recv", "socket.recv_into", "socket.accept"}

CHILD_CODE = r"""
import atexit, os, signal, sys
from pyinstrument import Profiler
out = sys.argv[1]
profiler = Profiler(interval=0.0005, async_mode="disabled")
state = {"on": False}
def start(*_):
    if not state["on"]:
        profiler.start(); state["on"] = True
def stop(*_):
    if state["on"]:
        profiler.stop(); state["on"] = False
        profiler.last_session.save(out + ".json")
        with open(out + ".txt", "w") as f:
            f.write(profiler.output_text(unicode=True, show_all=False))
signal.signal(signal.SIGUSR1, start)
signal.signal(signal.SIGUSR2, stop)
atexit.register(stop)
sys.argv = ["nameko", "run", sys.argv[2], "--config", sys.argv[3]]
from nameko.cli.main import main
main()
"""


def categorize(session_file: Path) -> tuple[dict[str, float], float]:
    from pyinstrument.session import Session
    session = Session.load(str(session_file))
    shares: dict[str, float] = {}
    total = 0.0
    for stack, seconds in session.frame_records:
        total += seconds
        label = "other (interpreter, stdlib)"
        leaf = stack[-1].partition("\x00")[0] if stack else ""
        if leaf in IDLE_LEAVES:
            shares["idle: eventlet hub waiting for I/O"] = shares.get("idle: eventlet hub waiting for I/O", 0) + seconds
            continue
        if leaf in SOCKET_LEAVES:
            side = ("AMQP" if any("/amqp/" in f or "/kombu/" in f for f in stack)
                    else "HTTP" if any("wsgi" in f or "/web/" in f for f in stack) else "other")
            label = f"socket syscalls, {side} (send/recv)"
            shares[label] = shares.get(label, 0.0) + seconds
            continue
        for identifier in reversed(stack):
            function, _, rest = identifier.partition("\x00")
            path = rest.split("\x00", 1)[0]
            found = next((name for name, fragment, func in CATEGORIES
                          if fragment in path and (func is None or function == func)), None)
            if found:
                label = found
                break
        shares[label] = shares.get(label, 0.0) + seconds
    return shares, total


def print_shares(process: str, shares: dict[str, float], total: float, requests_done: int) -> None:
    idle = sum(v for k, v in shares.items() if k.startswith("idle"))
    busy = total - idle
    print(f"\n{process}: {total:.2f} s recorded (pyinstrument counts each greenlet's own time), "
          f"{busy:.2f} s busy ({busy / requests_done * 1000:.2f} ms per request), idle in the hub {idle:.2f} s")
    for label, seconds in sorted(shares.items(), key=lambda kv: -kv[1]):
        if label.startswith("idle"):
            continue
        print(f"  {label:<50} {seconds / busy * 100:5.1f} % of busy   "
              f"{seconds / requests_done * 1000:6.3f} ms/request")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def step_costs() -> None:
    """Single steps in this process, a few thousand times each."""
    import jwt as pyjwt
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from bench.rpc_echo import PAYLOAD
    from services.common import caller
    key = Ed25519PrivateKey.generate()
    now = int(time.time())
    claims = {"sub": PAYLOAD["user_id"], "role": "person", "sid": "s1", "iss": caller.ISSUER, "iat": now,
              "exp": now + 900}
    token = pyjwt.encode(claims, key, algorithm="EdDSA")
    public = key.public_key()
    n = 3000

    def per_call(fn):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t0) / n * 1e6
    verify = per_call(lambda: pyjwt.decode(token, public, algorithms=["EdDSA"], issuer=caller.ISSUER))
    revocations = caller.RevocationList(reload_seconds=3600)
    revocations.load([])
    revoked = per_call(lambda: revocations.is_revoked("s1"))
    text = json.dumps(PAYLOAD)
    dumps = per_call(lambda: json.dumps(PAYLOAD))
    loads = per_call(lambda: json.loads(text))
    print("\nSingle steps in-process (µs per call, this machine, noisy):")
    print(f"  EdDSA token verification (PyJWT + cryptography) {verify:8.1f} µs")
    print(f"  revocation check (in-memory list)               {revoked:8.2f} µs")
    print(f"  JSON dumps / loads of the /me payload           {dumps:8.1f} / {loads:.1f} µs")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="400 requests")
    parser.add_argument("--requests", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    total = args.requests or (400 if args.quick else 1500)

    import requests

    import bench.foundation_bench as fb
    from bench.common import free_port, machine_line, own_vhost, percentile
    from deploy.local import Platform, broker_problem, running_services
    from services.common import config
    if broker_problem(config.amqp_uri()):
        print(broker_problem(config.amqp_uri()))
        return 2
    print(machine_line("QI One-Stop gateway profile"))
    print(f"sizes: {total} requests of GET /api/v1/me at {args.concurrency} clients")
    out_dir = Path(tempfile.mkdtemp(prefix="qi-profile-"))
    profiled = ("gateway", "identity")

    class ProfiledPlatform(Platform):
        def start_service(self, service):
            if service not in profiled:
                return super().start_service(service)
            output = open(self.log_dir / f"{service}.log", "ab")
            with self._lock:
                self.processes[service] = subprocess.Popen(
                    [self.python, "-c", CHILD_CODE, str(out_dir / service), f"services.{service}.service",
                     str(REPO / "deploy" / "nameko.yaml")],
                    env=self.env, cwd=REPO, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
                self._started_at[service] = time.monotonic()
            output.close()

    with own_vhost(config.amqp_uri()) as amqp_uri:
        env = {"QI_DATA_DIR": str(out_dir / "data"), "QI_GATEWAY_PORT": str(free_port()),
               "QI_LOG_LEVEL": "WARNING", "QI_AMQP_URI": amqp_uri}
        for service in running_services():
            env[f"QI_METRICS_PORT_{service.upper()}"] = str(free_port())
        platform = ProfiledPlatform(env=env)
        echo = None
        try:
            platform.start()
            platform.seed_demo()
            token = requests.post(platform.gateway_url + "/api/v1/auth/login",
                                  json={"username": "person-demo", "password": "Passw0rd!2026"},
                                  timeout=10).json()["access_token"]
            # 1. profiled load
            fb.bench_gateway(platform.gateway_url, token, min(200, total), args.concurrency)  # warm-up
            for service in profiled:
                platform.processes[service].send_signal(signal.SIGUSR1)
            time.sleep(0.5)
            elapsed, latencies = fb.bench_gateway(platform.gateway_url, token, total, args.concurrency)
            for service in profiled:
                platform.processes[service].send_signal(signal.SIGUSR2)
            print(f"\nunder the profiler: {len(latencies) / elapsed:.0f} req/s, p50 "
                  f"{percentile(latencies, 50) * 1000:.1f} ms, p99 {percentile(latencies, 99) * 1000:.1f} ms "
                  "(the profiler slows both processes down)")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not all((out_dir / f"{s}.json").exists() for s in profiled):
                time.sleep(0.5)
            for service in profiled:
                shares, sampled = categorize(out_dir / f"{service}.json")
                print_shares(service, shares, sampled, len(latencies))
            print(f"\n(pyinstrument reports: {out_dir}/gateway.txt, {out_dir}/identity.txt)")

            # 2. latency by subtraction, unprofiled, same run
            print(f"\nLatency of one read, {args.concurrency} clients, {total} requests each, same run:")
            echo = subprocess.Popen([sys.executable, "-m", "nameko", "run", "bench.rpc_echo", "--config",
                                     str(REPO / "deploy" / "nameko.yaml")], env=platform.env, cwd=REPO,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(4)
            k = fb.report("raw kombu request/reply (floor)", *fb.bench_raw_kombu(amqp_uri, total, args.concurrency))
            for mode in ("noconfirms", "confirms"):
                done = subprocess.run([sys.executable, str(REPO / "bench" / "rpc_echo.py"), "client", amqp_uri,
                                       str(total), str(args.concurrency), mode], env=platform.env, cwd=REPO,
                                      capture_output=True, text=True, timeout=300)
                if done.returncode:
                    print(f"  nameko RPC ({mode}): failed: {done.stderr[-400:]}")
                    continue
                result = json.loads(done.stdout.strip().splitlines()[-1])
                label = ("nameko RPC, echo, confirms on request" if mode == "confirms"
                         else "nameko RPC, echo, no confirms")
                r = fb.report(label, result["elapsed"], result["latencies"])
                print(f"  ratio {mode}/floor: throughput {r[0] / k[0]:.2f}x, p50 {r[1] / k[1]:.1f}x, "
                      f"p99 {r[2] / k[2]:.1f}x")
            pids = {name: proc.pid for name, proc in platform.processes.items()}
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            client_before = time.process_time()
            g = fb.report("gateway GET /api/v1/me (1 RPC)", *fb.bench_gateway(platform.gateway_url, token, total,
                                                                             args.concurrency))
            client_cpu = time.process_time() - client_before
            print(f"  ratio gateway/floor: throughput {g[0] / k[0]:.2f}x, p50 {g[1] / k[1]:.1f}x, p99 {g[2] / k[2]:.1f}x")
            print(f"\nCPU per request during that unprofiled run (/proc utime+stime; {total} requests):")
            for name, pid in pids.items():
                used = cpu_seconds(pid) - before[name]
                print(f"  {name:<10} {used * 1000 / total:6.2f} ms CPU/request   ({used:.2f} s)")
            print(f"  {'client':<10} {client_cpu * 1000 / total:6.2f} ms CPU/request   (the HTTP clients, this process)")
        finally:
            if echo is not None:
                echo.terminate()
                echo.wait(10)
            platform.stop()
    step_costs()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
