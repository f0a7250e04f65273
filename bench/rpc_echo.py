"""A nameko service that answers at once, and a nameko RPC client: the cost of a nameko
RPC without any of the platform's work (no token, no database), with and without
publisher confirms on the requests. Used by bench/profile_gateway.py.

    nameko run bench.rpc_echo --config deploy/nameko.yaml          # the service (QI_AMQP_URI)
    python bench/rpc_echo.py client AMQP_URI REQUESTS CONCURRENCY confirms|noconfirms
"""
from __future__ import annotations

import json
import sys
import time

from nameko.rpc import rpc

PAYLOAD = {"user_id": "02028ca7-6d1f-4573-bec5-73f550119abe", "username": "person-demo", "role": "person",
           "kind": "person", "display_name": "演示个人", "phone": "138****0000", "verification_level": "L1",
           "created_at": "2026-12-01T22:00:00Z"}


class Echo:
    name = "bench_echo"

    @rpc
    def me(self):
        return PAYLOAD


def client(amqp_uri: str, total: int, concurrency: int, confirms: bool) -> dict:
    import eventlet
    eventlet.monkey_patch()
    from nameko.amqp.publish import Publisher
    from nameko.standalone.rpc import ClusterRpcProxy
    # The request's publisher: nameko confirms every publish by default (the broker's
    # basic.return then turns into UnknownService); off, the request is fire-and-forget.
    Publisher.use_confirms = confirms

    latencies: list[float] = []
    config = {"AMQP_URI": amqp_uri, "SERIALIZER": "json"}
    # One proxy (so one reply queue) per client, as the kombu floor has.
    proxies = [ClusterRpcProxy(config, timeout=10) for _ in range(concurrency)]
    started_proxies = [p.start() for p in proxies]
    for proxy in started_proxies:
        for _ in range(5):
            proxy.bench_echo.me()

    def worker(proxy, n):
        for _ in range(n):
            t0 = time.perf_counter()
            proxy.bench_echo.me()
            latencies.append(time.perf_counter() - t0)
    pool = eventlet.GreenPool(concurrency)
    started = time.perf_counter()
    for proxy in started_proxies:
        pool.spawn(worker, proxy, total // concurrency)
    pool.waitall()
    elapsed = time.perf_counter() - started
    for proxy in proxies:
        proxy.stop()
    return {"elapsed": elapsed, "latencies": latencies}


if __name__ == "__main__":
    if sys.argv[1] == "client":
        result = client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "confirms")
        print(json.dumps(result))
