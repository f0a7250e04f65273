"""Where the time of an authenticated read crossing one RPC goes (GET /api/v1/me).

Prints figures, asserts nothing. On a broker vhost of its own (bench/common.py):

1. The whole platform as README's run command starts it, with the gateway and identity
   processes each sampled (started and stopped by signals around the measured load only):
   by default a CPU sampler (SIGPROF on ITIMER_PROF, the interrupted greenlet's stack,
   weighed by the process's CPU time), or with `--profiler pyinstrument` pyinstrument's
   wall-clock sampling, which under eventlet records only part of the CPU. The samples
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
                                              [--profiler cpu|pyinstrument] [--profile-only]
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
GREEN_SOCKET_CALLS = {"send", "sendall", "recv", "recv_into", "accept", "_recv_loop", "_send_loop"}
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

# The CPU sampler: SIGPROF every millisecond of this process's CPU time (ITIMER_PROF), the
# interrupted frame's stack recorded. Python runs a signal handler in whichever greenlet is
# current, so every sample lands on the greenlet that was burning the CPU; time spent waiting
# in the hub is never sampled. pyinstrument's wall-clock trees under eventlet record only a
# part of the process's CPU time (its `Recorded` vs `CPU time` line), this records all of it.
CPU_CHILD_CODE = r"""
import atexit, collections, json, signal, sys, time
out = sys.argv[1]
INTERVAL = 0.001
samples = collections.Counter()
state = {"on": False}
def sample(signum, frame):
    stack = []
    while frame is not None:
        code = frame.f_code
        stack.append(code.co_name + "\x00" + code.co_filename + "\x00" + str(frame.f_lineno))
        frame = frame.f_back
    samples[tuple(reversed(stack))] += 1
def start(*_):
    if not state["on"]:
        samples.clear(); state["on"] = True; state["cpu"] = time.process_time()
        signal.setitimer(signal.ITIMER_PROF, INTERVAL, INTERVAL)
def stop(*_):
    if state["on"]:
        signal.setitimer(signal.ITIMER_PROF, 0, 0); state["on"] = False
        # The kernel fires ITIMER_PROF at its tick (often 4 ms), not at INTERVAL: each sample
        # weighs the process's CPU time over the samples taken.
        weight = (time.process_time() - state["cpu"]) / max(1, sum(samples.values()))
        with open(out + ".cpu.json", "w") as f:
            json.dump([[list(k), v * weight] for k, v in samples.items()], f)
signal.signal(signal.SIGPROF, sample)
signal.signal(signal.SIGUSR1, start)
signal.signal(signal.SIGUSR2, stop)
atexit.register(stop)
sys.argv = ["nameko", "run", sys.argv[2], "--config", sys.argv[3]]
from nameko.cli.main import main
main()
"""


def categorize(session_file: Path) -> tuple[dict[str, float], float]:
    cpu_samples = session_file.name.endswith(".cpu.json")
    if cpu_samples:
        records = json.loads(session_file.read_text())
    else:
        from pyinstrument.session import Session
        records = Session.load(str(session_file)).frame_records
    shares: dict[str, float] = {}
    total = 0.0
    for stack, seconds in records:
        total += seconds
        label = "other (interpreter, stdlib)"
        leaf, _, leaf_rest = stack[-1].partition("\x00") if stack else ("", "", "")
        if cpu_samples and "eventlet/greenio/" in leaf_rest and leaf in GREEN_SOCKET_CALLS:
            leaf = "socket." + leaf  # the sampler sees the Python frame that made the syscall
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
    if cpu_samples and "idle: eventlet hub waiting for I/O" in shares:
        # CPU samples are never idle: this is the CPU of the hub's epoll calls themselves.
        shares["eventlet hub: epoll calls"] = shares.pop("idle: eventlet hub waiting for I/O")
    return shares, total


def print_shares(process: str, shares: dict[str, float], total: float, requests_done: int) -> None:
    idle = sum(v for k, v in shares.items() if k.startswith("idle"))
    busy = total - idle
    print(f"\n{process}: {total:.2f} s recorded, "
          f"{busy:.2f} s busy ({busy / requests_done * 1000:.2f} ms per request), idle in the hub {idle:.2f} s")
    for label, seconds in sorted(shares.items(), key=lambda kv: -kv[1]):
        if label.startswith("idle"):
            continue
        print(f"  {label:<50} {seconds / busy * 100:5.1f} % of busy   "
              f"{seconds / requests_done * 1000:6.3f} ms/request")


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
    parser.add_argument("--profiler", choices=("cpu", "pyinstrument"), default="cpu",
                        help="cpu: SIGPROF sampling of each process's CPU time (every greenlet); "
                             "pyinstrument: its wall-clock trees (text reports beside them)")
    parser.add_argument("--profile-only", action="store_true", help="skip the latency breakdown")
    args = parser.parse_args()
    total = args.requests or (400 if args.quick else 1500)

    import requests

    import bench.foundation_bench as fb
    from bench.common import cpu_seconds, free_port, machine_line, own_vhost, percentile
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
                    [self.python, "-c", CPU_CHILD_CODE if args.profiler == "cpu" else CHILD_CODE,
                     str(out_dir / service), f"services.{service}.service",
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
            suffix = ".cpu.json" if args.profiler == "cpu" else ".json"
            while time.monotonic() < deadline and not all((out_dir / f"{s}{suffix}").exists() for s in profiled):
                time.sleep(0.5)
            for service in profiled:
                shares, sampled = categorize(out_dir / f"{service}{suffix}")
                print_shares(service, shares, sampled, len(latencies))
            if args.profiler == "pyinstrument":
                print(f"\n(pyinstrument reports: {out_dir}/gateway.txt, {out_dir}/identity.txt)")
            else:
                print(f"\n(CPU samples, stacks and seconds: {out_dir}/gateway.cpu.json, {out_dir}/identity.cpu.json)")
            if args.profile_only:
                return 0

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
