"""Load test: N simulated enterprises for M minutes against the platform on loopback.

Prints figures, asserts nothing (the exit code is 1 if any request failed or any event
was lost, so a script can tell).

Each simulated user is an enterprise: it signs in (POST /auth/login), then, with a
think time of 1-3 s between requests, mostly searches institutions (GET
/search/institutions, queries as people type them: hanzi, pinyin, initials, standard
numbers), looks at its own demands (GET /demands), its account (GET /me), and now and
then publishes a demand (POST /demands with an Idempotency-Key). Users start spread
over the first --ramp seconds. Plain threads and `requests`: no load-test framework to
install (Locust would pull gevent and Flask into the platform's virtualenv).

The platform is started exactly as README's run command starts it (deploy.local's
`Platform`: migrations, every service, the gateway, demo data), on a broker vhost and
a QI_DATA_DIR of its own. Before it starts, a queue is bound with `#` to every
`<service>.events` exchange. At the end, once every outbox has nothing pending, the
events in each service's outbox table (read from the service's own database under
QI_DATA_DIR, as an operator would) are compared with the events that reached that
queue, by event id: 0 lost is the target.

    .venv/bin/python bench/load_test.py [--users 200] [--minutes 5] [--ramp 30]
    .venv/bin/python bench/load_test.py --users 20 --minutes 1      # a short run
"""
from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import requests  # noqa: E402
from kombu import Connection, Exchange, Queue  # noqa: E402

from bench.common import free_port, machine_line, own_vhost, percentile  # noqa: E402

PASSWORD = "Passw0rd!2026"
QUERIES = ["计量", "jiliang", "jl", "电线电缆", "GB/T 2828.1", "gb/t2828.1", "压力表 示值误差", "纺织品 甲醛",
           "检测", "水泥 抗压强度", "认证", "jc"]
DEMANDS = [("电线电缆导体电阻检测", "testing", "电线电缆", "导体电阻"),
           ("压力表示值误差检定", "metrology", "一般压力表", "示值误差"),
           ("纺织品甲醛含量检测", "testing", "纺织品", "甲醛含量"),
           ("企业标准制定咨询", "standardization", None, None)]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.samples: dict[str, str] = {}

    def record(self, route: str, seconds: float, ok: bool, detail: str = ""):
        with self.lock:
            self.latencies.setdefault(route, []).append(seconds)
            if not ok:
                self.errors[route] = self.errors.get(route, 0) + 1
                self.samples.setdefault(route, detail[:200])


class User(threading.Thread):
    def __init__(self, n: int, base: str, stats: Stats, stop: threading.Event, start_after: float,
                 username: str):
        super().__init__(daemon=True, name=f"user-{n}")
        self.base, self.stats, self.stop_event, self.start_after = base + "/api/v1", stats, stop, start_after
        self.rng = random.Random(n)
        self.username = username
        self.http = requests.Session()
        self.published = 0

    def call(self, route: str, method: str, path: str, expect=(200,), **kwargs):
        t0 = time.perf_counter()
        try:
            response = self.http.request(method, self.base + path, timeout=30, **kwargs)
            ok = response.status_code in expect
            detail = f"{response.status_code} {response.text}"
        except requests.RequestException as exc:
            response, ok, detail = None, False, repr(exc)
        self.stats.record(route, time.perf_counter() - t0, ok, detail)
        return response if ok else None

    def sign_in(self) -> bool:
        response = self.call("POST /auth/login", "POST", "/auth/login",
                             json={"username": self.username, "password": PASSWORD})
        if response is None:
            return False
        self.http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        return True

    def publish(self):
        title, category, product, parameter = self.rng.choice(DEMANDS)
        body = {"title": f"{title}（压测 {self.name}）", "category": category, "region": "姜堰区",
                "budget_yuan": str(self.rng.randint(500, 5000)), "desired_cycle_working_days": 5}
        if product:
            body.update(product=product, parameter=parameter)
        if self.call("POST /demands", "POST", "/demands", expect=(201,), json=body,
                     headers={"Idempotency-Key": uuid.uuid4().hex}) is not None:
            self.published += 1

    def run(self):
        if self.stop_event.wait(self.start_after):
            return
        if not self.sign_in():
            return
        while not self.stop_event.is_set():
            roll = self.rng.random()
            if roll < 0.6:
                self.call("GET /search/institutions", "GET", "/search/institutions",
                          params={"q": self.rng.choice(QUERIES), "limit": 20})
            elif roll < 0.75:
                self.call("GET /demands", "GET", "/demands", params={"limit": 20})
            elif roll < 0.9:
                self.call("GET /me", "GET", "/me")
            else:
                self.publish()
            self.stop_event.wait(self.rng.uniform(1.0, 3.0))


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
    straight from its database file under QI_DATA_DIR."""
    with sqlite3.connect(f"file:{data_dir / (service + '.db')}?mode=ro", uri=True, timeout=30) as db:
        ids = {row[0] for row in db.execute("SELECT id FROM outbox_event")}
        pending = db.execute("SELECT count(*) FROM outbox_event WHERE sent_at IS NULL").fetchone()[0]
    return ids, pending


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--ramp", type=float, default=None, help="seconds over which users start (default 30, "
                                                                 "at most a quarter of the run)")
    args = parser.parse_args()
    duration = args.minutes * 60
    ramp = args.ramp if args.ramp is not None else min(30.0, duration / 4)

    from deploy.local import Platform, broker_problem, running_services
    from services.common import config
    problem = broker_problem(config.amqp_uri())
    if problem:
        print(problem)
        return 2
    print(machine_line("QI One-Stop load test"))
    print(f"sizes: {args.users} simulated enterprises for {args.minutes:g} min (ramp {ramp:.0f} s, think time 1-3 s)")
    services = event_services()
    data_dir = Path(tempfile.mkdtemp(prefix="qi-load-"))
    failed = False
    with own_vhost(config.amqp_uri()) as amqp_uri:
        tap = EventTap(amqp_uri, services)
        env = {"QI_DATA_DIR": str(data_dir), "QI_GATEWAY_PORT": str(free_port()), "QI_LOG_LEVEL": "WARNING",
               "QI_AMQP_URI": amqp_uri}
        for service in running_services():
            env[f"QI_METRICS_PORT_{service.upper()}"] = str(free_port())
        platform = Platform(env=env)
        try:
            platform.start()
            platform.seed_demo()
            print(f"platform up at {platform.gateway_url} (data {data_dir})")
            stats, stop = Stats(), threading.Event()
            users = [User(n, platform.gateway_url, stats, stop, ramp * n / max(1, args.users), "ent-demo")
                     for n in range(args.users)]
            started = time.perf_counter()
            for user in users:
                user.start()
            stop.wait(duration)
            stop.set()
            for user in users:
                user.join(40)
            elapsed = time.perf_counter() - started
            failed |= report(stats, elapsed, sum(u.published for u in users))
            failed |= check_events(tap, data_dir, services)
        finally:
            platform.stop()
            tap.close()
    return 1 if failed else 0


def report(stats: Stats, elapsed: float, published: int) -> bool:
    total = sum(len(v) for v in stats.latencies.values())
    errors = sum(stats.errors.values())
    print(f"\n{total} requests in {elapsed:.0f} s ({total / elapsed:.1f} req/s), {errors} errors, "
          f"{published} demands published")
    print(f"  {'route':<28} {'count':>7} {'req/s':>7} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7}")
    for route, values in sorted(stats.latencies.items()):
        print(f"  {route:<28} {len(values):7d} {len(values) / elapsed:7.1f} {percentile(values, 50) * 1000:9.1f} "
              f"{percentile(values, 99) * 1000:9.1f} {stats.errors.get(route, 0):7d}")
    for route, sample in stats.samples.items():
        print(f"  first error on {route}: {sample}")
    return errors > 0


def check_events(tap: EventTap, data_dir: Path, services: list[str]) -> bool:
    deadline = time.monotonic() + 120
    while True:
        state = {s: outbox_ids(data_dir, s) for s in services}
        if all(p == 0 for _, p in state.values()) or time.monotonic() > deadline:
            break
        time.sleep(1)
    tap.drain()
    print("\nEvents: outbox rows (each service's own database) vs events on a queue bound to every "
          "<svc>.events exchange:")
    lost_any = False
    for service in services:
        ids, pending = state[service]
        seen = tap.seen.get(service, set())
        lost = ids - seen
        lost_any |= bool(lost) or pending > 0
        print(f"  {service:<10} outbox {len(ids):6d}  pending {pending:4d}  seen on the queue {len(seen & ids):6d}  "
              f"lost {len(lost)}")
    total = sum(len(state[s][0]) for s in services)
    print(f"  total: {total} events in the outboxes, {sum(len(state[s][0] - tap.seen.get(s, set())) for s in services)}"
          f" lost")
    return lost_any


if __name__ == "__main__":
    sys.exit(main())
