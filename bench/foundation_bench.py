"""Foundation benchmark: prints figures, asserts nothing.

1. Gateway: requests/s, p50 and p99 latency of an authenticated read that crosses
   one RPC (GET /api/v1/me -> identity.me), against the whole platform started
   as separate processes, as README's run command does.
2. The floor, in the same run and on the same broker: a raw kombu request/reply
   round trip (client -> queue -> echo consumer -> reply queue), same concurrency.
   Printed side by side, with the gateway/floor ratio.
3. Outbox relay throughput: events/s published with publisher confirms and
   mandatory=True, on SQLite and (if reachable) PostgreSQL.

    .venv/bin/python bench/foundation_bench.py [--requests 2000] [--concurrency 8]
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import requests  # noqa: E402
from kombu import Connection, Consumer, Exchange, Producer, Queue  # noqa: E402

from deploy.local import Platform, broker_problem, running_services  # noqa: E402
from services.common import config  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run_concurrently(total: int, concurrency: int, make_worker) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()
    per_worker = total // concurrency

    def body(i):
        call = make_worker(i)
        mine = []
        for _ in range(per_worker):
            t0 = time.perf_counter()
            call()
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, latencies


def report(name, elapsed, latencies):
    rps = len(latencies) / elapsed
    p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
    print(f"  {name:<38} {rps:9.0f} req/s   p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   (n={len(latencies)})")
    return rps, p50, p99


def bench_gateway(base: str, token: str, total: int, concurrency: int):
    def make_worker(_):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"

        def call():
            response = session.get(base + "/api/v1/me", timeout=10)
            assert response.status_code == 200, response.text
        return call
    run_concurrently(min(200, total), concurrency, make_worker)  # warm-up
    return run_concurrently(total, concurrency, make_worker)


def echo_server(amqp_uri: str, queue_name: str, ready, stop) -> None:
    """Replies to every request: the service side of the floor, in its own process as
    identity is, so that it does not share the client's interpreter lock."""
    request_queue = Queue(queue_name, exchange=Exchange("bench", type="direct"), routing_key="echo",
                          auto_delete=True)
    with Connection(amqp_uri) as conn:
        producer = Producer(conn.channel())

        def on_request(body, message):
            producer.publish(body, routing_key=message.properties["reply_to"],
                             correlation_id=message.properties["correlation_id"], serializer="json")
            message.ack()
        with Consumer(conn, queues=[request_queue], callbacks=[on_request], accept=["json"], prefetch_count=50):
            ready.set()
            while not stop.is_set():
                try:
                    conn.drain_events(timeout=0.2)
                except Exception:
                    pass


def bench_raw_kombu(amqp_uri: str, total: int, concurrency: int):
    """Request/reply over plain kombu: the cost of the broker round trip alone."""
    import multiprocessing
    queue_name = f"bench-echo-{uuid.uuid4().hex[:6]}"
    request_queue = Queue(queue_name, exchange=Exchange("bench", type="direct"), routing_key="echo",
                          auto_delete=True)
    ctx = multiprocessing.get_context("spawn")  # no fork of a process that already runs threads
    ready, stop = ctx.Event(), ctx.Event()
    server = ctx.Process(target=echo_server, args=(amqp_uri, queue_name, ready, stop), daemon=True)
    server.start()
    ready.wait(10)

    def make_worker(_):
        conn = Connection(amqp_uri)
        channel = conn.channel()
        reply_queue = Queue(f"bench-reply-{uuid.uuid4().hex[:8]}", exclusive=True, auto_delete=True)
        reply_queue(channel).declare()
        producer = Producer(channel)
        got = {}

        def on_reply(body, message):
            got["body"] = body
            message.ack()
        consumer = Consumer(channel, queues=[reply_queue], callbacks=[on_reply], accept=["json"])
        consumer.consume()

        def call():
            got.clear()
            producer.publish({"user": "me"}, exchange=request_queue.exchange, routing_key="echo",
                             reply_to=reply_queue.name, correlation_id=uuid.uuid4().hex, serializer="json",
                             declare=[request_queue])
            while "body" not in got:
                conn.drain_events(timeout=10)
        return call
    run_concurrently(min(200, total), concurrency, make_worker)
    result = run_concurrently(total, concurrency, make_worker)
    stop.set()
    server.join(5)
    return result


def bench_relay(amqp_uri: str, url: str, label: str, count: int):
    from services.common.db import Database, make_engine
    from services.common.migrate import upgrade
    from services.common.outbox import OutboxRelay, record_event
    upgrade("identity", url)
    db = Database(make_engine(url))
    with Connection(amqp_uri) as conn:  # a bound queue, so events are routable (and not returned)
        queue = Queue(f"bench-relay-{uuid.uuid4().hex[:6]}", exchange=Exchange("identity.events", type="topic"),
                      routing_key="#", auto_delete=False, durable=True)
        queue(conn.channel()).declare()
        with db.transaction() as session:
            for i in range(count):
                user_id = str(uuid.uuid4())   # a payload identity's contract accepts (record_event validates)
                record_event(session, "identity", "user.registered", user_id, {
                    "user_id": user_id, "role": "person", "nickname": f"n{i}", "registered_at": "2026-01-01T00:00:00Z"})
        relay = OutboxRelay(db, "identity", amqp_uri=amqp_uri, batch_size=200)
        started = time.perf_counter()
        sent = 0
        while sent < count:
            sent += relay.publish_pending()
        elapsed = time.perf_counter() - started
        relay.close()
        queue(conn.channel()).delete()
    db.engine.dispose()
    print(f"  outbox relay, {label:<26} {count / elapsed:9.0f} events/s  ({count} events in {elapsed:.2f} s, "
          f"confirms collected per batch of 200)")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    amqp_uri = config.amqp_uri()
    problem = broker_problem(amqp_uri)
    if problem:
        print(problem)
        return 2
    data_dir = Path(tempfile.mkdtemp(prefix="qi-bench-"))
    env = {"QI_DATA_DIR": str(data_dir), "QI_GATEWAY_PORT": str(free_port()), "QI_LOG_LEVEL": "WARNING"}
    for service in running_services():
        env[f"QI_METRICS_PORT_{service.upper()}"] = str(free_port())
    platform = Platform(env=env)
    print(f"QI One-Stop foundation benchmark · {os.cpu_count()} cores · broker {amqp_uri.split('@')[-1]}")
    try:
        platform.start()
        platform.seed_demo()
        token = requests.post(platform.gateway_url + "/api/v1/auth/login",
                              json={"username": "person-demo", "password": "Passw0rd!2026"}, timeout=10).json()[
            "access_token"]
        print(f"\nAuthenticated read, {args.concurrency} concurrent clients, {args.requests} requests each way:")
        g = report("gateway GET /api/v1/me (1 RPC)", *bench_gateway(platform.gateway_url, token, args.requests,
                                                                    args.concurrency))
        k = report("raw kombu request/reply (floor)", *bench_raw_kombu(amqp_uri, args.requests, args.concurrency))
        print(f"  ratio gateway/floor: throughput {g[0] / k[0]:.2f}x, p50 {g[1] / k[1]:.1f}x, p99 {g[2] / k[2]:.1f}x")
    finally:
        platform.stop()
    print("\nOutbox relay (publisher confirms, mandatory=True):")
    bench_relay(amqp_uri, f"sqlite:///{data_dir / 'relay-bench.db'}", "SQLite", args.events)
    try:
        import psycopg2
        admin = "postgresql://postgres@127.0.0.1:5432/postgres"
        name = f"qi_bench_{uuid.uuid4().hex[:6]}"
        conn = psycopg2.connect(admin)
        conn.autocommit = True
        conn.cursor().execute(f'CREATE DATABASE "{name}"')
        try:
            bench_relay(amqp_uri, f"postgresql://postgres@127.0.0.1:5432/{name}", "PostgreSQL", args.events)
        finally:
            conn.cursor().execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            conn.close()
    except Exception as exc:  # PostgreSQL is optional for the benchmark
        print(f"  outbox relay, PostgreSQL: skipped ({type(exc).__name__}: {exc})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
