"""Load test: N simulated users for M minutes against the platform on loopback.

Prints figures, asserts nothing (the exit code is 1 if any request failed or any event
was lost, so a script can tell).

Four kinds of simulated user, by their number (n % 10), each with a think time of 1-3 s
between requests, starting spread over the first --ramp seconds:

* enterprise (4 in 10; signs in once): searches institutions as people type (hanzi,
  pinyin, initials, standard numbers), opens a result, lists and opens its own demands,
  looks at its account, now and then publishes a demand (Idempotency-Key);
* booking (2 in 10; signs in once): lists shared instruments, reads an instrument's
  availability, requests a booking for free slots it read there (the demo instruments'
  own notice, horizon, opening hours and minimum length apply, so only slots the
  availability endpoint shows free are asked for), lists its bookings, cancels some;
* verifier (2 in 10; anonymous): verifies the demo reports by number and printed code
  (POST and GET /reports/{number}/verify, codes from services/delivery/demo.py), fetches
  the verification public key;
* browser (2 in 10; anonymous): the public pages (catalogue, guides, institutions,
  instruments, trainings, windows, published statistics and improvements, search).

Signing in is once per simulated user, each with an account of its own: a pool of demo
enterprises `load-ent-NNNN` made at the start by `python -m services.identity.demo
--load-pool N` (one real Argon2 hash shared by the pool, so making 200 accounts takes
seconds; every sign-in still verifies Argon2). Plain threads and `requests`: no load-test
framework to install (Locust would pull gevent into the platform's virtualenv, next to
eventlet/nameko).

A 409 `slot_taken` on POST /bookings (someone else took the slot between the read and
the request: exactly what the slot claims decide) is counted as a conflict, not an error;
every other unexpected status is an error, with its first body printed.

The platform is started exactly as README's run command starts it (deploy.local's
`Platform`: migrations, every service, the gateway, demo data), on a broker vhost, free
ports and a QI_DATA_DIR of its own. Before it starts, a queue is bound with `#` to every
`<service>.events` exchange. At the end, once every outbox has nothing pending, the
events in each service's outbox table are compared with the events that reached that
queue, by event id: 0 lost is the target; then every event queue's backlog on the vhost
(rabbitmqctl list_queues: ready and unacknowledged messages), so consumers kept up too.
Reading each service's own database (SQLite under QI_DATA_DIR) is what an operator
does on a local platform; the script is an operator's tool, not a service, so the
"no service reads another's tables" rule is not broken by it.

    .venv/bin/python bench/load_test.py --users 200 --minutes 5
    .venv/bin/python bench/load_test.py --quick          # 20 users for 1 minute
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import requests  # noqa: E402
from kombu import Connection, Queue  # noqa: E402

from bench.common import free_port, machine_line, own_vhost, percentile  # noqa: E402

PASSWORD = "Passw0rd!2026"   # services.identity.demo.DEMO_PASSWORD
SHANGHAI = ZoneInfo("Asia/Shanghai")
QUERIES = ["计量", "jiliang", "jl", "电线电缆", "GB/T 2828.1", "gb/t2828.1", "压力表 示值误差", "纺织品 甲醛",
           "检测", "水泥 抗压强度", "认证", "jc"]
DEMANDS = [("电线电缆导体电阻检测", "testing", "电线电缆", "导体电阻"),
           ("压力表示值误差检定", "metrology", "一般压力表", "示值误差"),
           ("纺织品甲醛含量检测", "testing", "纺织品", "甲醛含量"),
           ("企业标准制定咨询", "standardization", None, None)]
KINDS = ["enterprise"] * 4 + ["booking"] * 2 + ["verifier"] * 2 + ["browser"] * 2


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {}
        self.statuses: dict[str, dict[str, int]] = {}
        self.errors: dict[str, int] = {}
        self.conflicts: dict[str, int] = {}
        self.samples: dict[str, str] = {}

    def record(self, route: str, seconds: float, status: str, ok: bool, detail: str = "", conflict=False):
        with self.lock:
            self.latencies.setdefault(route, []).append(seconds)
            counts = self.statuses.setdefault(route, {})
            counts[status] = counts.get(status, 0) + 1
            if conflict:
                self.conflicts[route] = self.conflicts.get(route, 0) + 1
            elif not ok:
                self.errors[route] = self.errors.get(route, 0) + 1
                self.samples.setdefault(route, detail[:300])


class World:
    """What the users pick from, read once from the running platform after the demo data is in."""

    def __init__(self, base: str):
        from services.delivery.demo import PREFIX, WITHDRAWN, demo_code
        api = base + "/api/v1"
        self.reports = [(f"{PREFIX}{n:04d}", demo_code(f"{PREFIX}{n:04d}")) for n in range(1, 51)]
        self.withdrawn = f"{PREFIX}{WITHDRAWN:04d}"
        def listed(path):
            body = requests.get(api + path, timeout=30).json()
            return body["items"] if isinstance(body, dict) else body
        instruments = listed("/instruments")
        # Qualification-required instruments refuse users without a grant: not what an
        # unqualified enterprise would be offered.
        self.instruments = [i for i in instruments if i["status"] == "published"
                            and not i["rules"].get("qualification_required")]
        # Items with a published guide (the demo writes guides for some items only).
        self.items = [i["code"] for i in listed("/catalog/items")
                      if requests.get(f"{api}/guides/{i['code']}", timeout=30).status_code == 200]
        self.institutions = [i["institution_id"] for i in listed("/institutions")]


class User(threading.Thread):
    def __init__(self, n: int, kind: str, base: str, world: World, stats: Stats, stop: threading.Event,
                 start_after: float, username: str | None):
        super().__init__(daemon=True, name=f"user-{n}")
        self.kind, self.world = kind, world
        self.base, self.stats, self.stop_event, self.start_after = base + "/api/v1", stats, stop, start_after
        self.rng = random.Random(n)
        self.username = username
        self.http = requests.Session()
        self.published = 0
        self.booked = 0
        self.cancelled = 0
        self.my_demands: list[str] = []
        self.my_bookings: list[str] = []

    def call(self, route: str, method: str, path: str, expect=(200,), conflict_codes=(), **kwargs):
        t0 = time.perf_counter()
        try:
            response = self.http.request(method, self.base + path, timeout=30, **kwargs)
            status = str(response.status_code)
            ok = response.status_code in expect
            conflict = False
            if not ok and response.status_code == 409 and conflict_codes:
                conflict = _problem_code(response) in conflict_codes
            detail = f"{response.status_code} {response.text}"
        except requests.RequestException as exc:
            response, status, ok, conflict, detail = None, type(exc).__name__, False, False, repr(exc)
        self.stats.record(route, time.perf_counter() - t0, status, ok, detail, conflict)
        return response if ok else None

    def sign_in(self) -> bool:
        response = self.call("POST /auth/login", "POST", "/auth/login",
                             json={"username": self.username, "password": PASSWORD})
        if response is None:
            return False
        self.http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        return True

    # --- enterprise ------------------------------------------------------------------
    def search(self):
        response = self.call("GET /search/institutions", "GET", "/search/institutions",
                             params={"q": self.rng.choice(QUERIES), "limit": 20})
        return response.json().get("items", []) if response is not None else []

    def publish(self):
        title, category, product, parameter = self.rng.choice(DEMANDS)
        body = {"title": f"{title}（压测 {self.name}）", "category": category, "region": "姜堰区",
                "budget_yuan": str(self.rng.randint(500, 5000)), "desired_cycle_working_days": 5}
        if product:
            body.update(product=product, parameter=parameter)
        response = self.call("POST /demands", "POST", "/demands", expect=(201,), json=body,
                             headers={"Idempotency-Key": uuid.uuid4().hex})
        if response is not None:
            self.published += 1
            self.my_demands.append(response.json()["id"])

    def enterprise_step(self):
        roll = self.rng.random()
        if roll < 0.45:
            self.search()
        elif roll < 0.55:
            found = self.search()
            if found:
                self.call("GET /search/institutions/{id}", "GET",
                          f"/search/institutions/{self.rng.choice(found)['institution_id']}")
        elif roll < 0.67:
            response = self.call("GET /demands", "GET", "/demands", params={"limit": 20})
            if response is not None:
                self.my_demands += [d["id"] for d in response.json().get("items", [])
                                    if d["id"] not in self.my_demands][:5]
        elif roll < 0.77:
            if self.my_demands:
                self.call("GET /demands/{id}", "GET", f"/demands/{self.rng.choice(self.my_demands)}")
            else:
                self.call("GET /me", "GET", "/me")
        elif roll < 0.88:
            self.call("GET /me", "GET", "/me")
        else:
            self.publish()

    # --- booking ---------------------------------------------------------------------
    def free_runs(self, instrument: dict) -> list[tuple[str, str]]:
        """(start, end) of every run of free slots as long as the instrument's minimum booking."""
        today = dt.datetime.now(SHANGHAI).date()
        response = self.call("GET /instruments/{id}/availability", "GET",
                             f"/instruments/{instrument['id']}/availability",
                             params={"from": today.isoformat(), "to": (today + dt.timedelta(days=20)).isoformat()})
        if response is None:
            return []
        body = response.json()
        need = max(1, -(-instrument["rules"]["min_minutes"] // body["slot_minutes"]))
        slots = body["slots"]
        runs = []
        for i in range(len(slots) - need + 1):
            window = slots[i:i + need]
            if all(s["state"] == "free" and not s["rules"] for s in window) and all(
                    a["end"] == b["start"] for a, b in zip(window, window[1:])):
                runs.append((window[0]["start"], window[-1]["end"]))
        return runs

    def book(self):
        instrument = self.rng.choice(self.world.instruments)
        runs = self.free_runs(instrument)
        if not runs:
            return
        start, end = self.rng.choice(runs)
        response = self.call("POST /bookings", "POST", "/bookings", expect=(201,), conflict_codes=("slot_taken",),
                             json={"instrument_id": instrument["id"], "starts_at": start, "ends_at": end,
                                   "purpose": "压测预约"}, headers={"Idempotency-Key": uuid.uuid4().hex})
        if response is None:
            return
        self.booked += 1
        booking_id = response.json()["id"]
        if self.rng.random() < 0.4:
            self.stop_event.wait(self.rng.uniform(0.5, 2.0))
            if self.call("POST /bookings/{id}/cancel", "POST", f"/bookings/{booking_id}/cancel",
                         json={"reason": "压测取消"}) is not None:
                self.cancelled += 1
        else:
            self.my_bookings.append(booking_id)

    def booking_step(self):
        roll = self.rng.random()
        if roll < 0.25:
            self.free_runs(self.rng.choice(self.world.instruments))
        elif roll < 0.37:
            self.call("GET /instruments", "GET", "/instruments")
        elif roll < 0.52:
            self.call("GET /bookings", "GET", "/bookings", params={"limit": 20})
        elif roll < 0.6 and self.my_bookings:
            self.call("GET /bookings/{id}", "GET", f"/bookings/{self.rng.choice(self.my_bookings)}")
        elif roll < 0.72:
            self.search()
        else:
            self.book()

    # --- public ----------------------------------------------------------------------
    def verifier_step(self):
        number, code = self.rng.choice(self.world.reports)
        roll = self.rng.random()
        if roll < 0.65:
            self.call("POST /reports/{number}/verify", "POST", f"/reports/{number}/verify", json={"code": code})
        elif roll < 0.9:
            self.call("GET /reports/{number}/verify", "GET", f"/reports/{number}/verify", params={"code": code})
        else:
            self.call("GET /verification/public-key", "GET", "/verification/public-key")

    def browser_step(self):
        w, roll = self.world, self.rng.random()
        if roll < 0.1:
            self.call("GET /catalog/categories", "GET", "/catalog/categories")
        elif roll < 0.2:
            self.call("GET /catalog/items", "GET", "/catalog/items")
        elif roll < 0.32 and w.items:
            self.call("GET /guides/{code}", "GET", f"/guides/{self.rng.choice(w.items)}")
        elif roll < 0.42:
            self.call("GET /institutions", "GET", "/institutions")
        elif roll < 0.52 and w.institutions:
            self.call("GET /institutions/{id}", "GET", f"/institutions/{self.rng.choice(w.institutions)}")
        elif roll < 0.6:
            self.call("GET /instruments", "GET", "/instruments")
        elif roll < 0.66:
            self.call("GET /trainings", "GET", "/trainings")
        elif roll < 0.72:
            self.call("GET /windows", "GET", "/windows")
        elif roll < 0.77:
            self.call("GET /statistics/quarterly/published", "GET", "/statistics/quarterly/published")
        elif roll < 0.82:
            self.call("GET /improvements/published", "GET", "/improvements/published")
        else:
            self.search()

    def run(self):
        if self.stop_event.wait(self.start_after):
            return
        if self.username and not self.sign_in():
            return
        step = getattr(self, f"{self.kind}_step")
        while not self.stop_event.is_set():
            step()
            self.stop_event.wait(self.rng.uniform(1.0, 3.0))


def _problem_code(response) -> str | None:
    try:
        return response.json().get("code")
    except ValueError:
        return None


def event_services() -> list[str]:
    from services.common import platform
    return [s for s in platform.present() if s != "gateway" and platform.spec(s).database]


class EventTap:
    """A queue bound with `#` to every `<service>.events` exchange, declared before the platform starts."""

    def __init__(self, amqp_uri: str, services: list[str]):
        from services.common.events import exchange
        self.conn = Connection(amqp_uri)
        self.queue = Queue(f"load-test-tap-{uuid.uuid4().hex[:6]}", durable=True, auto_delete=False,
                           bindings=[])
        channel = self.conn.channel()
        self.queue(channel).declare()
        for service in services:
            exchange(service)(channel).declare()
            channel.queue_bind(queue=self.queue.name, exchange=exchange(service).name, routing_key="#")
        self.seen: dict[str, set[str]] = {}

    def drain(self, idle_seconds: float = 3.0) -> None:
        def on_message(body, message):
            envelope = json.loads(body) if isinstance(body, (str, bytes)) else body
            self.seen.setdefault(envelope["source"], set()).add(envelope["id"])
            message.ack()
        from kombu import Consumer
        with Consumer(self.conn, queues=[self.queue], callbacks=[on_message], accept=["json"],
                      prefetch_count=500):
            last = time.monotonic()
            while time.monotonic() - last < idle_seconds:
                try:
                    self.conn.drain_events(timeout=0.5)
                    last = time.monotonic()
                except (TimeoutError, OSError):
                    pass
                except Exception:  # socket.timeout is TimeoutError on 3.11
                    pass

    def close(self):
        try:
            self.queue(self.conn.channel()).delete()
        finally:
            self.conn.release()


def outbox_ids(data_dir: Path, service: str) -> tuple[set[str], int]:
    """(ids of every event in the service's outbox, how many are still pending), read
    straight from its database file under QI_DATA_DIR (an operator's read, see the top)."""
    with sqlite3.connect(f"file:{data_dir / (service + '.db')}?mode=ro", uri=True, timeout=30) as db:
        ids = {row[0] for row in db.execute("SELECT id FROM outbox_event")}
        pending = db.execute("SELECT count(*) FROM outbox_event WHERE sent_at IS NULL").fetchone()[0]
    return ids, pending


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc), 0 if unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def platform_cpu(platform) -> dict[str, float]:
    cpu = {name: process_cpu(proc.pid) for name, proc in platform.processes.items()}
    cpu["load generator"] = time.process_time()
    return cpu


def seed_load_pool(platform, count: int) -> None:
    subprocess.run([sys.executable, "-m", "services.identity.demo", "--load-pool", str(count)], env=platform.env,
                   cwd=REPO, check=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--ramp", type=float, default=None, help="seconds over which users start (default 60, "
                                                                 "at most a quarter of the run)")
    parser.add_argument("--quick", action="store_true", help="20 users for 1 minute")
    args = parser.parse_args()
    if args.quick:
        args.users, args.minutes = 20, 1.0
    duration = args.minutes * 60
    ramp = args.ramp if args.ramp is not None else min(60.0, duration / 4)

    from deploy.local import Platform, broker_problem, running_services
    from services.common import config
    problem = broker_problem(config.amqp_uri())
    if problem:
        print(problem)
        return 2
    print(machine_line("QI One-Stop load test"))
    kinds = [KINDS[n % len(KINDS)] for n in range(args.users)]
    mix = ", ".join(f"{kinds.count(k)} {k}" for k in dict.fromkeys(KINDS))
    print(f"sizes: {args.users} simulated users ({mix}) for {args.minutes:g} min (ramp {ramp:.0f} s, "
          f"think time 1-3 s)")
    services = event_services()
    data_dir = Path(tempfile.mkdtemp(prefix="qi-load-"))
    failed = False
    with own_vhost(config.amqp_uri(), prefix="qi-load") as amqp_uri:
        vhost = amqp_uri.rsplit("/", 1)[-1]
        tap = EventTap(amqp_uri, services)
        env = {"QI_DATA_DIR": str(data_dir), "QI_GATEWAY_PORT": str(free_port()), "QI_LOG_LEVEL": "WARNING",
               "QI_AMQP_URI": amqp_uri}
        for service in running_services():
            env[f"QI_METRICS_PORT_{service.upper()}"] = str(free_port())
        platform = Platform(env=env)
        try:
            platform.start()
            platform.seed_demo()
            logins = sum(1 for k in kinds if k in ("enterprise", "booking"))
            seed_load_pool(platform, logins)
            world = World(platform.gateway_url)
            print(f"platform up at {platform.gateway_url} (data {data_dir}); {len(world.instruments)} bookable "
                  f"instruments, {len(world.reports)} demo reports")
            before = settled_outboxes(data_dir, services)
            stats, stop = Stats(), threading.Event()
            from services.identity.demo import load_pool_username
            users, account = [], 0
            for n, kind in enumerate(kinds):
                username = None
                if kind in ("enterprise", "booking"):
                    account += 1
                    username = load_pool_username(account)
                users.append(User(n, kind, platform.gateway_url, world, stats, stop,
                                  ramp * n / max(1, args.users), username))
            print(f"load {os.getloadavg()[0]:.2f} at the start")
            cpu_before = platform_cpu(platform)
            started = time.perf_counter()
            for user in users:
                user.start()
            stop.wait(duration)
            stop.set()
            for user in users:
                user.join(40)
            elapsed = time.perf_counter() - started
            cpu = {k: v - cpu_before.get(k, 0.0) for k, v in platform_cpu(platform).items()}
            print(f"CPU seconds during the load ({os.cpu_count()} cores x {elapsed:.0f} s = "
                  f"{os.cpu_count() * elapsed:.0f} available): "
                  + ", ".join(f"{k} {v:.0f}" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1])))
            print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")
            failed |= report(stats, elapsed, users)
            failed |= check_events(tap, data_dir, services, before, vhost)
            restarts = platform.restarts
            if restarts:
                failed = True
                print(f"service restarts during the run: {restarts}")
        finally:
            platform.stop()
            tap.close()
    return 1 if failed else 0


def report(stats: Stats, elapsed: float, users: list[User]) -> bool:
    total = sum(len(v) for v in stats.latencies.values())
    errors = sum(stats.errors.values())
    print(f"\n{total} requests in {elapsed:.0f} s ({total / elapsed:.1f} req/s), {errors} errors; "
          f"{sum(u.published for u in users)} demands published, {sum(u.booked for u in users)} bookings made, "
          f"{sum(u.cancelled for u in users)} cancelled, {sum(stats.conflicts.values())} slot_taken conflicts")
    print(f"  {'route':<36} {'count':>6} {'req/s':>6} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}  statuses")
    for route, values in sorted(stats.latencies.items()):
        codes = " ".join(f"{k}:{v}" for k, v in sorted(stats.statuses[route].items()))
        print(f"  {route:<36} {len(values):6d} {len(values) / elapsed:6.1f} {percentile(values, 50) * 1000:8.1f} "
              f"{percentile(values, 99) * 1000:8.1f} {stats.errors.get(route, 0):6d}  {codes}")
    for route, sample in stats.samples.items():
        print(f"  first error on {route}: {sample}")
    return errors > 0


def settled_outboxes(data_dir: Path, services: list[str], seconds: float = 120) -> dict:
    """{service: (ids, pending)} once nothing is pending (or after `seconds`)."""
    deadline = time.monotonic() + seconds
    while True:
        state = {s: outbox_ids(data_dir, s) for s in services}
        if all(p == 0 for _, p in state.values()) or time.monotonic() > deadline:
            return state
        time.sleep(1)


def event_queue_backlog(vhost: str) -> list[tuple[str, int, int, int]] | None:
    """(queue, ready, unacked, consumers) of every event queue on the vhost (not RPC or reply queues)."""
    import shutil
    command = os.environ.get("QI_RABBITMQCTL", "rabbitmqctl").split()
    if not shutil.which(command[0]):
        return None
    out = subprocess.run([*command, "-q", "list_queues", "-p", vhost, "name", "type", "messages_ready",
                          "messages_unacknowledged", "consumers", "--no-table-headers"],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        return None
    rows = []
    for line in out.stdout.splitlines():
        parts = line.split()
        # RPC request and reply queues (rpc-<svc>, rpc.reply-…) are not event queues.
        if len(parts) != 5 or parts[0].startswith(("rpc-", "rpc.reply", "load-test-tap")) or parts[1] == "stream":
            continue
        rows.append((parts[0], int(parts[2]), int(parts[3]), int(parts[4])))
    return rows


def check_events(tap: EventTap, data_dir: Path, services: list[str], before: dict, vhost: str) -> bool:
    state = settled_outboxes(data_dir, services)
    tap.drain()
    print("\nEvents: outbox rows (each service's own database) before/after the load, vs events on a queue "
          "bound to every <svc>.events exchange:")
    lost_any = False
    for service in services:
        ids, pending = state[service]
        seen = tap.seen.get(service, set())
        lost = ids - seen
        lost_any |= bool(lost) or pending > 0
        print(f"  {service:<10} outbox {len(before[service][0]):6d} -> {len(ids):6d} (+{len(ids - before[service][0])})"
              f"  pending {pending:4d}  relayed (seen on the queue) {len(seen & ids):6d}  lost {len(lost)}")
    total = sum(len(state[s][0]) for s in services)
    added = sum(len(state[s][0] - before[s][0]) for s in services)
    lost_total = sum(len(state[s][0] - tap.seen.get(s, set())) for s in services)
    print(f"  total: {total} events in the outboxes ({added} during the load), {lost_total} lost")
    time.sleep(3)   # consumers settle what the drain above saw published
    backlog = event_queue_backlog(vhost)
    if backlog is None:
        print("  broker: rabbitmqctl unavailable, event queues not checked")
    else:
        behind = [row for row in backlog if row[1] or row[2]]
        print(f"  broker: {len(backlog)} event queues on the vhost, {sum(r[3] for r in backlog)} consumers; "
              f"{'all empty (every event consumed)' if not behind else 'NOT empty: ' + repr(behind)}")
        idle = [row[0] for row in backlog if not row[3]]
        if idle:
            print(f"  broker: queues without a consumer: {', '.join(idle)}")
        lost_any |= bool(behind)
    return lost_any


if __name__ == "__main__":
    sys.exit(main())
