"""Search benchmark: prints figures, asserts nothing.

1. Catch-up: 10,000 `institution.approved` events (100,000 capabilities) applied
   through `index.apply_registry_event`, the consumer's own function (no broker:
   this measures the index, not RabbitMQ). Of the last --timed events (default
   2,000), a quarter is applied one transaction each (the consumer before group
   commit) and the rest through the consumer's GroupCommit with --in-flight green
   threads at a time, as nameko hands a process its delivered messages: that is
   the events/s figure, taken where the index is nearly full. The events before
   them are setup, applied by the same function but --batch per transaction.
   Then the rebuild: services.matching.rebuild over the same 10k profiles in
   place, from pages shaped (and JSON-encoded) as the registry's RPC sends them.
2. Search p50/p99 and queries/s by direct calls to `search.search`, and then the
   same queries through the gateway's HTTP (`GET /api/v1/search/institutions`)
   with the whole platform running on that very index database (one client
   thread for latency, four for throughput).
3. Baseline: SQLite FTS5 over the same rows (one document per institution, the
   same jieba/pinyin terms pre-segmented, AND semantics, bm25 order, LIMIT 20),
   with our/baseline latency ratio. FTS5 ranks by text only, without our
   filters, facets or explanation, so it is a floor rather than an equal.

    .venv/bin/python bench/search_bench.py [--quick] [--institutions 10000] [--caps 10] [--queries 300]
                                           [--timed 2000] [--batch 500] [--in-flight 20] [--page 500]
                                           [--no-gateway]

`--quick`: 1,000 institutions, 5 capabilities each, 100 queries, 300 timed events (about
a minute). The run through the gateway starts the platform on a broker vhost of its own
(bench/common.py), so another platform on the same broker cannot answer its RPCs.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import eventlet  # noqa: E402 (the consumer's green threads, as under nameko)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import machine_line, own_vhost  # noqa: E402
from services.common import migrate  # noqa: E402
from services.common.db import Database, make_engine  # noqa: E402
from services.common.events import make_envelope  # noqa: E402
from services.matching import index, rebuild, search, text  # noqa: E402
from services.matching.group_commit import GroupCommit  # noqa: E402

REGIONS = ["海陵区", "高港区", "姜堰区", "兴化市", "靖江市", "泰兴市"]
PARKS = [None, "泰州医药高新区", "泰州港经济开发区", "姜堰经济开发区"]
KINDS = [("lab", "testing", "检验检测中心"), ("metrology", "metrology", "计量测试所"),
         ("certification", "certification", "认证中心"), ("standardization", "standardization", "标准化研究所")]
PRODUCTS = ["电线电缆", "一般压力表", "塑料管材", "纺织品", "食品接触材料", "家用电器", "钢筋", "水泥", "涂料", "包装件",
            "电子天平", "玩具", "口罩", "电动自行车", "灯具", "砝码", "水表", "电能表", "混凝土", "饮用水"]
PARAMETERS = ["导体电阻", "示值误差", "拉伸强度", "甲醛含量", "迁移量", "耐压", "抗压强度", "色牢度", "跌落", "能效",
              "阻燃性能", "重金属", "绝缘电阻", "盐雾", "尺寸偏差"]
STANDARDS = ["GB/T 2828.1-2012", "GB/T 3956-2008", "JJG 52-2013", "GB 4706.1-2005", "GB/T 4857.5-1992",
             "GB 18401-2010", "GB/T 228.1-2021", "GB 4806.7-2023", "JJG 99-2022", "GB 175-2023", "GB/T 10125-2021",
             "GB 5749-2022", "JJG 162-2019", "GB 17761-2018", "GB 7000.1-2015"]
QUERIES = [{"q": "计量"}, {"q": "jiliang"}, {"q": "jl"}, {"q": "电线电缆"}, {"q": "GB/T 2828.1"},
           {"q": "gb/t2828.1"}, {"q": "压力表 示值误差"}, {"q": "纺织品 甲醛"}, {"q": "检测", "region": "姜堰区"},
           {"category": "testing", "qualification": "CMA", "price_max": 500}, {"q": "水泥 抗压强度"},
           {"standard": "JJG 52-2013", "region": "海陵区"}]


def make_profile(rng: random.Random, i: int, caps: int) -> dict:
    kind, category, suffix = rng.choice(KINDS)
    qid = str(uuid.uuid4())
    qual_type = {"lab": "CMA", "metrology": "LEGAL_METROLOGY", "certification": "CERT_BODY"}.get(kind, "OTHER")
    capabilities = []
    for _ in range(caps):
        product, parameter = rng.choice(PRODUCTS), rng.choice(PARAMETERS)
        capabilities.append({"capability_id": str(uuid.uuid4()), "category": category, "item_code": None,
                             "item_name": f"{product}{parameter}检测", "product": product, "parameter": parameter,
                             "method_standard": rng.choice(STANDARDS), "price_yuan": rng.randint(50, 5000),
                             "cycle_working_days": rng.randint(1, 20), "qualification_id": qid})
    region = rng.choice(REGIONS)
    return {"institution_id": str(uuid.uuid4()), "name": f"泰州{region}{rng.choice(PRODUCTS)}{suffix}{i}", "kind": kind,
            "uscc": "", "region": region, "park": rng.choice(PARKS), "address": f"{region}示例路{i}号",
            "categories": [category],
            "qualifications": [{"qualification_id": qid, "type": qual_type, "number": str(i), "issuer": "江苏省市场监督管理局",
                                "valid_from": "2024-01-01", "valid_to": "2030-12-31", "scope": "", "status": "valid"}],
            "capabilities": capabilities, "status": "active"}


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def fts_token(term: str) -> str:
    return re.sub(r"[^0-9A-Za-z\u4e00-\u9fff]", "_", term)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes for a quick run")
    parser.add_argument("--institutions", type=int, default=None, help="default 10000 (quick 1000)")
    parser.add_argument("--caps", type=int, default=None, help="capabilities per institution, default 10 (quick 5)")
    parser.add_argument("--queries", type=int, default=None, help="default 300 (quick 100)")
    parser.add_argument("--timed", type=int, default=None,
                        help="catch-up events timed, one transaction each, default 2000 (quick 300)")
    parser.add_argument("--batch", type=int, default=500, help="setup events per transaction before those")
    parser.add_argument("--no-gateway", action="store_true", help="skip the run through the gateway's HTTP")
    parser.add_argument("--in-flight", type=int, default=20,
                        help="messages a consumer process holds at once (nameko max_workers), default 20")
    parser.add_argument("--page", type=int, default=500, help="institutions per page of the rebuild")
    args = parser.parse_args()
    for name, full, quick in (("institutions", 10000, 1000), ("caps", 10, 5), ("queries", 300, 100),
                              ("timed", 2000, 300)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    print(machine_line("QI One-Stop search benchmark"))
    print(f"sizes: {args.institutions} institutions x {args.caps} capabilities "
          f"({args.institutions * args.caps} capabilities), {args.queries} queries, {args.timed} timed catch-up events")
    rng = random.Random(20260918)
    tmp = Path(tempfile.mkdtemp(prefix="qi-search-bench-"))
    url = f"sqlite:///{tmp / 'matching.db'}"
    migrate.upgrade("matching", url)
    db = Database(make_engine(url))

    profiles = [make_profile(rng, i, args.caps) for i in range(args.institutions)]
    envelopes = [make_envelope("registry", "institution.approved", p["institution_id"],
                               {"institution_id": p["institution_id"], "revision": 1, "snapshot": p})
                 for p in profiles]
    timed = envelopes[max(0, len(envelopes) - args.timed):]
    single = timed[:len(timed) // 4]   # one transaction each: the consumer before group commit
    grouped = timed[len(single):]      # the consumer's group commit, `--in-flight` workers at a time
    setup = envelopes[:len(envelopes) - len(timed)]
    started = time.perf_counter()
    for start in range(0, len(setup), args.batch):
        with db.transaction() as session:
            for envelope in setup[start:start + args.batch]:
                index.apply_registry_event(session, envelope)
    print(f"index setup: {len(setup)} events in {time.perf_counter() - started:.1f}s ({args.batch} per transaction)")
    started = time.perf_counter()
    for envelope in single:
        with db.transaction() as session:
            index.apply_registry_event(session, envelope)
    single_rate = len(single) / (time.perf_counter() - started)
    print(f"index catch-up, one transaction per event: {len(single)} events, {single_rate:.0f} events/s "
          f"(SQLite, index at {len(setup)}.. institutions) · load {load()}")
    group = GroupCommit(db, index.apply_registry_event)
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(grouped), args.in_flight):
        # As nameko hands them over: up to max_workers delivered messages, a green thread each.
        workers = [eventlet.spawn(group.submit, e) for e in grouped[start:start + args.in_flight]]
        for worker in workers:
            worker.wait()
    catch_up, cpu = time.perf_counter() - started, time.process_time() - cpu
    rate = len(grouped) / catch_up
    print(f"index catch-up, group commit ({args.in_flight} in flight, services/matching/group_commit.py): "
          f"{len(grouped)} events / {len(grouped) * args.caps} capabilities in {catch_up:.1f}s, {rate:.0f} events/s "
          f"({len(grouped) / cpu:.0f} per CPU-second of this process) · load {load()}")
    print(f"ratio catch-up/target: {rate / 500:.1f}x the 500 events/s target, {rate / single_rate:.1f}x one "
          f"transaction per event, {rate / 41:.1f}x issue 14's 41 events/s")

    # Baseline: FTS5 over the same terms, one document per institution.
    fts = sqlite3.connect(":memory:")
    fts.execute("CREATE VIRTUAL TABLE doc USING fts5(institution_id UNINDEXED, body)")
    fts.executemany("INSERT INTO doc VALUES (?, ?)", [
        (p["institution_id"], " ".join(fts_token(t) for t in index.institution_terms(p))) for p in profiles])
    fts.commit()

    ours, base, sizes = [], [], []
    for n in range(args.queries):
        params = {**QUERIES[n % len(QUERIES)], "limit": 20}
        t0 = time.perf_counter()
        with db.read() as session:
            result = search.search(session, params)
        ours.append(time.perf_counter() - t0)
        sizes.append(result["total"])
        terms = text.query_terms(params.get("q")) + search.facet_terms(params)
        match = " AND ".join('"' + fts_token(t) + '"' for t in terms) or '"testing"'
        t0 = time.perf_counter()
        fts.execute("SELECT institution_id FROM doc WHERE doc MATCH ? ORDER BY bm25(doc) LIMIT 20", (match,)).fetchall()
        base.append(time.perf_counter() - t0)

    def line(label, values):
        return (f"{label:<28} p50 {pct(values, 50) * 1000:7.2f} ms   p99 {pct(values, 99) * 1000:7.2f} ms   "
                f"{len(values) / sum(values):7.1f} queries/s (1 thread)")
    print(f"search over {args.institutions} institutions, {args.queries} queries, mean hits {statistics.mean(sizes):.0f}:")
    print(line("matching.search (direct)", ours))
    print(line("SQLite FTS5 baseline", base))
    print(f"ratio engine/FTS5: p50 {pct(ours, 50) / pct(base, 50):.1f}x, p99 {pct(ours, 99) / pct(base, 99):.1f}x, "
          f"throughput {len(base) / sum(base) / (len(ours) / sum(ours)):.1f}x fewer queries/s (target: within 2x) "
          f"· load {load()}")
    rebuild_index(db, profiles, args.page)
    db.engine.dispose()
    if not args.no_gateway:
        through_gateway(url, tmp, args.queries, line, pct(base, 50), pct(base, 99))
    shutil.rmtree(tmp, ignore_errors=True)  # ~200 MB of index and platform data per full run


def rebuild_index(db, profiles: list[dict], page_size: int) -> None:
    """services.matching.rebuild over the same profiles, in place (every institution re-indexed), from
    pages shaped as the registry's institution_profiles RPC returns them, JSON-encoded and decoded as
    they would cross the broker (the registry's own paging is not part of this figure)."""
    ordered = sorted(profiles, key=lambda p: p["institution_id"])

    def pages(after, limit):
        start = 0 if after is None else next(i for i, p in enumerate(ordered) if p["institution_id"] == after) + 1
        chunk = ordered[start:start + limit]
        page = {"items": [{"institution_id": p["institution_id"], "revision": 1, "snapshot": p} for p in chunk],
                "next_after": chunk[-1]["institution_id"] if start + limit < len(ordered) else None}
        return json.loads(json.dumps(page, ensure_ascii=False))
    started, cpu = time.perf_counter(), time.process_time()
    counts = rebuild.rebuild(db, pages, page_size)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"index rebuild (python -m services.matching.index rebuild, {page_size} per page): {counts['applied']} "
          f"institutions in {elapsed:.1f}s ({counts['applied'] / elapsed:.0f}/s; {cpu:.1f} CPU-seconds) · load {load()}")
    print(f"ratio rebuild/target: {elapsed / 60 * 10000 / max(1, counts['applied']):.2f}x the 60 s allowed "
          f"for 10k institutions (scaled to 10k)")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def through_gateway(url: str, tmp: Path, queries: int, line, base_p50: float, base_p99: float) -> None:
    """The same queries over HTTP, the platform's matching service reading the bench index."""
    from deploy.local import broker_problem
    from services.common import config

    problem = broker_problem(config.amqp_uri())
    if problem:
        print(f"through the gateway: skipped ({problem})")
        return
    with own_vhost(config.amqp_uri()) as amqp_uri:
        _through_gateway(url, tmp, queries, line, base_p50, base_p99, amqp_uri)


def _through_gateway(url, tmp, queries, line, base_p50, base_p99, amqp_uri) -> None:
    import socket
    import threading

    import requests

    from deploy.local import Platform, running_services

    def free_port() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]
    env = {"QI_DATA_DIR": str(tmp / "platform"), "QI_GATEWAY_PORT": str(free_port()), "QI_LOG_LEVEL": "WARNING",
           "QI_DB_URL_MATCHING": url, "QI_AMQP_URI": amqp_uri}
    for service in running_services():
        env[f"QI_METRICS_PORT_{service.upper()}"] = str(free_port())
    platform = Platform(env=env)
    try:
        platform.start()
        base = platform.gateway_url + "/api/v1/search/institutions"

        def one(session, n):
            params = {**QUERIES[n % len(QUERIES)], "limit": 20}
            t0 = time.perf_counter()
            response = session.get(base, params=params, timeout=30)
            assert response.status_code == 200, response.text
            return time.perf_counter() - t0

        session = requests.Session()
        for n in range(20):
            one(session, n)
        latencies = [one(session, n) for n in range(queries)]
        print(line("through the gateway (HTTP)", latencies))
        print(f"ratio gateway/FTS5: p50 x{pct(latencies, 50) / base_p50:.1f}, "
              f"p99 x{pct(latencies, 99) / base_p99:.1f}")
        done = []

        def worker(k):
            own = requests.Session()
            done.extend(one(own, n) for n in range(k, queries, 4))
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        print(f"through the gateway, 4 client threads: {len(done) / elapsed:.1f} queries/s, "
              f"p50 {pct(done, 50) * 1000:.2f} ms, p99 {pct(done, 99) * 1000:.2f} ms")
    finally:
        platform.stop()


if __name__ == "__main__":
    main()
