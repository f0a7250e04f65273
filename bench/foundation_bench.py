"""Foundation benchmark: prints figures, asserts nothing.

1. Gateway: requests/s, p50 and p99 latency of an authenticated read that crosses
   one RPC (GET /api/v1/me -> identity.me), against the whole platform started
   as separate processes, as README's run command does.
2. The floor, in the same run and on the same broker: a raw kombu request/reply
   round trip (client -> queue -> echo consumer -> reply queue), same concurrency.
   Printed side by side, with the gateway/floor ratio.
3. Outbox relay throughput: events/s published with publisher confirms and
   mandatory=True, on SQLite and (if reachable) PostgreSQL.

    .venv/bin/python bench/foundation_bench.py [--quick] [--requests 2000] [--concurrency 8] [--events 5000]
                                               [--relay-batch 500] [--no-gateway] [--no-relay] [--scale-out]

`--scale-out`: every service on PostgreSQL, the same read with 1 gateway + 1 identity, then
with 2 gateway processes + 2 identity processes (clients spread over both gateways), each
beside the floor. Every gateway run also prints the CPU per request of the gateway,
identity and the broker (/proc), the figure that compares runs on a machine under load.

It runs on a broker vhost of its own (bench/common.py), so a platform already running on
the same broker cannot answer its RPCs. `--quick` takes small sizes (400 requests, 1,000
events) for a run of about 30 s.
"""
from __future__ import annotations

import argparse
import http.client
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import requests  # noqa: E402
from kombu import Connection, Consumer, Exchange, Producer, Queue  # noqa: E402

from bench.common import broker_pid, cpu_seconds, free_port, machine_line, own_vhost, percentile  # noqa: E402
from deploy.local import Platform, broker_problem, running_services  # noqa: E402
from services.common import config  # noqa: E402


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


def bench_gateway(base, token: str, total: int, concurrency: int):
    """`base` is one gateway URL, or a list of them: client i talks to base[i % len(base)].

    Each client is one keep-alive `http.client` connection: the load generator's own CPU
    competes with the platform for the same cores, and `requests` spends about three times
    as much per request (measured: 1.37 vs ~0.4 ms), which the floor's kombu clients do not.
    """
    bases = [base] if isinstance(base, str) else list(base)

    def make_worker(i):
        url = urlsplit(bases[i % len(bases)])
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        headers = {"Authorization": f"Bearer {token}"}

        def call():
            connection.request("GET", "/api/v1/me", headers=headers)
            response = connection.getresponse()
            body = response.read()
            assert response.status == 200, body
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
    broker = broker_pid()

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
    before = (cpu_seconds(server.pid), cpu_seconds(broker) if broker else 0.0, time.process_time())
    run_concurrently(min(200, total), concurrency, make_worker)
    result = run_concurrently(total, concurrency, make_worker)
    n = total + min(200, total)
    FLOOR_CPU.update({"echo server": (cpu_seconds(server.pid) - before[0]) * 1000 / n,
                      "broker": ((cpu_seconds(broker) - before[1]) * 1000 / n) if broker else 0.0,
                      "kombu clients": (time.process_time() - before[2]) * 1000 / n})
    stop.set()
    server.join(5)
    return result


FLOOR_CPU: dict[str, float] = {}   # CPU per request of the last floor run, by process (ms)


def bench_relay(amqp_uri: str, url: str, label: str, count: int, batch_size: int):
    from services.common.db import Database, make_engine
    from services.common.migrate import upgrade
    from services.common.outbox import OutboxRelay, record_event
    upgrade("identity", url)
    db = Database(make_engine(url))
    with Connection(amqp_uri) as conn:  # a bound queue, so events are routable (and not returned)
        queue = Queue(f"bench-relay-{uuid.uuid4().hex[:6]}", exchange=Exchange("bench.events", type="topic"),
                      routing_key="#", auto_delete=False, durable=True)
        queue(conn.channel()).declare()
        with db.transaction() as session:
            for i in range(count):
                # a source without a contract: no payload schema to satisfy
                record_event(session, "bench", "thing.happened", f"u{i}", {"n": i})
        relay = OutboxRelay(db, "bench", amqp_uri=amqp_uri, batch_size=batch_size)
        started, cpu_started = time.perf_counter(), time.process_time()
        sent = 0
        while sent < count:
            sent += relay.publish_pending()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        relay.close()
        queue(conn.channel()).delete()
    db.engine.dispose()
    print(f"  outbox relay, {label:<26} {count / elapsed:9.0f} events/s  ({count} events in {elapsed:.2f} s, "
          f"batch {batch_size}; relay CPU {cpu / count * 1e6:.0f} µs/event: "
          f"its own ceiling {count / cpu:.0f} events/s)")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes: 400 requests, 1,000 events")
    parser.add_argument("--requests", type=int, default=None, help="requests each way (default 2000, quick 400)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--events", type=int, default=None, help="relay events (default 5000, quick 1000)")
    parser.add_argument("--relay-batch", type=int, default=None,
                        help="relay batch size (default: OutboxRelay's own default)")
    parser.add_argument("--no-gateway", action="store_true")
    parser.add_argument("--no-relay", action="store_true")
    parser.add_argument("--scale-out", action="store_true",
                        help="on PostgreSQL: the read with 1 gateway + 1 identity, then 2 + 2, in one run")
    args = parser.parse_args()
    args.requests = args.requests or (400 if args.quick else 2000)
    args.events = args.events or (1000 if args.quick else 5000)
    if args.relay_batch is None:
        import inspect

        from services.common.outbox import OutboxRelay
        args.relay_batch = inspect.signature(OutboxRelay).parameters["batch_size"].default
    problem = broker_problem(config.amqp_uri())
    if problem:
        print(problem)
        return 2
    print(machine_line("QI One-Stop foundation benchmark"))
    print(f"sizes: {args.requests} requests each way at {args.concurrency} clients; relay {args.events} events, "
          f"batch {args.relay_batch}")
    with own_vhost(config.amqp_uri()) as amqp_uri:
        if args.scale_out:
            run_scale_out(amqp_uri, args)
            return 0
        if not args.no_gateway:
            run_gateway(amqp_uri, args)
        if not args.no_relay:
            run_relay(amqp_uri, args)
    return 0


def run_gateway(amqp_uri: str, args) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="qi-bench-"))
    env = {"QI_DATA_DIR": str(data_dir), "QI_GATEWAY_PORT": str(free_port()), "QI_LOG_LEVEL": "WARNING",
           "QI_AMQP_URI": amqp_uri}
    for service in running_services():
        env[f"QI_METRICS_PORT_{service.upper()}"] = str(free_port())
    platform = Platform(env=env)
    try:
        platform.start()
        platform.seed_demo()
        token = requests.post(platform.gateway_url + "/api/v1/auth/login",
                              json={"username": "person-demo", "password": "Passw0rd!2026"}, timeout=10).json()[
            "access_token"]
        print(f"\nAuthenticated read, {args.concurrency} concurrent clients, {args.requests} requests each way:")
        pids = {"gateway": platform.processes["gateway"].pid, "identity": platform.processes["identity"].pid,
                "broker": broker_pid()}
        before = {name: cpu_seconds(pid) for name, pid in pids.items() if pid}
        client_before = time.process_time()
        g = report("gateway GET /api/v1/me (1 RPC)", *bench_gateway(platform.gateway_url, token, args.requests,
                                                                    args.concurrency))
        used = {name: (cpu_seconds(pids[name]) - t0) * 1000 / (args.requests + min(200, args.requests))
                for name, t0 in before.items()}
        client = (time.process_time() - client_before) * 1000 / (args.requests + min(200, args.requests))
        k = report("raw kombu request/reply (floor)", *bench_raw_kombu(amqp_uri, args.requests, args.concurrency))
        print(f"  ratio gateway/floor: throughput {g[0] / k[0]:.2f}x, p50 {g[1] / k[1]:.1f}x, p99 {g[2] / k[2]:.1f}x")
        # CPU per request is steadier than req/s on a shared machine: it compares runs at any load.
        print("  CPU per request of the gateway read (/proc, warm-up included): "
              + ", ".join(f"{name} {ms:.2f} ms" for name, ms in used.items()) + f", HTTP clients {client:.2f} ms"
              + ("  (the broker's figure counts every vhost)" if "broker" in used else ""))
        gateway_cpu, floor_cpu = sum(used.values()) + client, sum(FLOOR_CPU.values())
        print("  CPU per request of the floor: " + ", ".join(f"{name} {ms:.2f} ms" for name, ms in FLOOR_CPU.items())
              + f"; all counted processes: gateway read {gateway_cpu:.2f} ms vs floor {floor_cpu:.2f} ms"
              + f" (on {os.cpu_count()} cores a CPU-bound ceiling of {floor_cpu / gateway_cpu:.2f}x the floor)")
    finally:
        platform.stop()


def run_scale_out(amqp_uri: str, args) -> None:
    """The same read with one process of the gateway and of identity, then two of each,
    every service on PostgreSQL (several instances per service are safe there only)."""
    import subprocess

    import psycopg2

    from services.common import platform as platform_table
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    prefix = f"qi_bench_{uuid.uuid4().hex[:6]}"
    services = [s for s in platform_table.with_database() if platform_table.is_present(s)]
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    for service in services:
        conn.cursor().execute(f'CREATE DATABASE "{prefix}_{service}"')
    data_dir = Path(tempfile.mkdtemp(prefix="qi-bench-scale-"))
    env = {"QI_DATA_DIR": str(data_dir), "QI_GATEWAY_PORT": str(free_port()), "QI_LOG_LEVEL": "WARNING",
           "QI_AMQP_URI": amqp_uri, "QI_DB_URL": f"postgresql://postgres@127.0.0.1:5432/{prefix}_{{service}}",
           # PostgreSQL's 100 connections are shared by everyone on the machine: small pools
           "QI_DB_POOL_SIZE": os.environ.get("QI_DB_POOL_SIZE", "3")}
    for service in running_services():
        env[f"QI_METRICS_PORT_{service.upper()}"] = str(free_port())
    platform = Platform(env=env)
    extra = []
    try:
        platform.start()
        platform.seed_demo()
        token = requests.post(platform.gateway_url + "/api/v1/auth/login",
                              json={"username": "person-demo", "password": "Passw0rd!2026"}, timeout=10).json()[
            "access_token"]
        print(f"\nScale-out on PostgreSQL, {args.concurrency} clients, {args.requests} requests each:")
        k = report("raw kombu request/reply (floor)", *bench_raw_kombu(amqp_uri, args.requests, args.concurrency))
        one = report("1 gateway + 1 identity", *bench_gateway(platform.gateway_url, token, args.requests,
                                                              args.concurrency))
        second_port = free_port()
        for service, port in (("identity", None), ("gateway", second_port)):
            child_env = {**platform.env, f"QI_METRICS_PORT_{service.upper()}": str(free_port())}
            if port:
                child_env["QI_GATEWAY_PORT"] = str(port)
            extra.append(subprocess.Popen(
                [sys.executable, "-m", "nameko", "run", f"services.{service}.service", "--config",
                 str(REPO / "deploy" / "nameko.yaml")], env=child_env, cwd=REPO,
                stdout=open(platform.log_dir / f"{service}-2.log", "ab"), stderr=subprocess.STDOUT))
        second = f"http://127.0.0.1:{second_port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if requests.get(second + "/ready", timeout=3).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        time.sleep(3)  # the second identity's consumer joins the queue
        two = report("2 gateways + 2 identity", *bench_gateway([platform.gateway_url, second], token,
                                                               args.requests, args.concurrency))
        print(f"  ratio 2+2 / 1+1: throughput {two[0] / one[0]:.2f}x, p50 {two[1] / one[1]:.2f}x, "
              f"p99 {two[2] / one[2]:.2f}x   ({os.cpu_count()} cores for everything: a ratio near 1 means "
              f"the cores, not the processes, are the limit)")
        for label, figures in (("1 gateway + 1 identity", one), ("2 gateways + 2 identity", two)):
            print(f"  ratio gateway/floor: throughput {figures[0] / k[0]:.2f}x, p50 {figures[1] / k[1]:.1f}x, "
                  f"p99 {figures[2] / k[2]:.1f}x   ({label}, PostgreSQL)")
    finally:
        for proc in extra:
            proc.terminate()
            try:
                proc.wait(15)
            except Exception:
                proc.kill()
        platform.stop()
        for service in services:
            conn.cursor().execute(f'DROP DATABASE IF EXISTS "{prefix}_{service}" WITH (FORCE)')
        conn.close()


def run_relay(amqp_uri: str, args) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="qi-bench-relay-"))
    print("\nOutbox relay (publisher confirms, mandatory=True):")
    bench_relay(amqp_uri, f"sqlite:///{data_dir / 'relay-bench.db'}", "SQLite", args.events, args.relay_batch)
    try:
        import psycopg2
        admin = "postgresql://postgres@127.0.0.1:5432/postgres"
        name = f"qi_bench_{uuid.uuid4().hex[:6]}"
        conn = psycopg2.connect(admin)
        conn.autocommit = True
        conn.cursor().execute(f'CREATE DATABASE "{name}"')
        try:
            bench_relay(amqp_uri, f"postgresql://postgres@127.0.0.1:5432/{name}", "PostgreSQL", args.events,
                        args.relay_batch)
        finally:
            conn.cursor().execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            conn.close()
    except Exception as exc:  # PostgreSQL is optional for the benchmark
        print(f"  outbox relay, PostgreSQL: skipped ({type(exc).__name__}: {exc})")


if __name__ == "__main__":
    sys.exit(main())
