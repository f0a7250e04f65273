"""The feedback service as it runs (`nameko run`, real RabbitMQ), on SQLite and on PostgreSQL.

Operations are called over RPC the way the gateway calls them (the caller's signed
token in the context data); finished-service events are published on the other
services' exchanges with plain kombu. On PostgreSQL two instances of the service
run against one database (concurrency across processes).
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Producer
from nameko.standalone.rpc import ClusterRpcProxy

from services.common.db import Database, make_engine
from services.common.events import dumps
from services.common.migrate import upgrade
from tests.conftest import BACKENDS, amqp_uri, pg_databases  # noqa: F401 (the shared broker and PostgreSQL fixtures)

REPO = Path(__file__).resolve().parents[4]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Running:
    def __init__(self, env, db, backend):
        self.env, self.db, self.backend = env, db, backend

    @contextlib.contextmanager
    def rpc(self, principal=None):
        from services.common.testing import sign_access_token
        context = {}
        if principal:
            claims = {"sub": principal["user_id"], "role": principal["role"], "sid": str(uuid.uuid4()),
                      **{k: principal[k] for k in ("institution_id", "window_id") if principal.get(k)}}
            context["qi.access_token"] = sign_access_token(claims)
        with ClusterRpcProxy({"AMQP_URI": self.env["QI_AMQP_URI"]}, context_data=context, timeout=20) as proxy:
            yield proxy.feedback

    def publish(self, envelope):
        exchange = Exchange(f"{envelope['source']}.events", type="topic", durable=True)
        with Connection(self.env["QI_AMQP_URI"]) as conn:
            producer = Producer(conn.channel(), exchange=exchange)
            exchange(producer.channel).declare()
            producer.publish(dumps(envelope), routing_key=envelope["type"], content_type="application/json",
                             content_encoding="utf-8", serializer=None, delivery_mode=2, message_id=envelope["id"])


def eventually(check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


@pytest.fixture(scope="module", params=BACKENDS)
def running(request, amqp_uri, pg_databases, tmp_path_factory):
    backend = request.param
    data_dir = tmp_path_factory.mktemp(f"feedback-{backend}")
    url = f"sqlite:///{data_dir / 'feedback.db'}" if backend == "sqlite" else pg_databases.create("feedback")
    os.environ["QI_DATA_DIR"] = str(data_dir)   # this process signs tokens with the same dev keys
    from services.common import caller
    caller.ensure_dev_key_pair(data_dir / "keys")
    env = {**os.environ, "QI_DATA_DIR": str(data_dir), "QI_AMQP_URI": amqp_uri, "QI_DB_URL_FEEDBACK": url,
           "QI_SLA_SWEEP_SECONDS": "1", "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    upgrade("feedback", url)
    known = Database(make_engine(url))
    from services.feedback.models import InstitutionName
    with known.transaction() as session:
        # The approved institution the tests complain about, as registry's institution.approved left it.
        session.add(InstitutionName(id="inst-1", name="inst-1", revision=0, status="approved"))
    known.engine.dispose()
    instances = 2 if backend == "postgresql" else 1
    processes, logs = [], []
    for i in range(instances):
        log = open(data_dir / f"feedback-{i}.log", "w")
        logs.append(log)
        modules = ["services.feedback.service"] + (["services.feedback.tests.interface.fake_identity"] if i == 0
                                                   else [])
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "nameko", "run", *modules, "--config", str(REPO / "deploy" / "nameko.yaml")],
            env={**env, "QI_METRICS_PORT_FEEDBACK": str(free_port())}, cwd=REPO, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True))
    db = Database(make_engine(url))
    run = Running(env, db, backend)

    def pinged():
        try:
            with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=3) as proxy:
                return proxy.feedback.ping()["ok"]
        except Exception:
            return False
    try:
        if not eventually(pinged, timeout=60):
            raise RuntimeError((data_dir / "feedback-0.log").read_text()[-3000:])
        time.sleep(1.0)   # event consumers bound
        yield run
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        for log in logs:
            log.close()
        db.engine.dispose()
