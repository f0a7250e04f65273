"""Interface tests: the delivery service as it runs (`nameko run`, a real RabbitMQ vhost), called over RPC
like the gateway calls it, on SQLite and on PostgreSQL. Stand-ins answer for identity and matching."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from services.common import caller, client_address
from services.common.migrate import upgrade
from services.common.testing import sign_access_token
from tests.conftest import BACKENDS, amqp_uri, pg_databases  # noqa: F401 (shared fixtures)

REPO = Path(__file__).resolve().parents[4]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Running:
    def __init__(self, amqp: str, data_dir: Path, db_url: str, backend: str):
        self.amqp, self.data_dir, self.db_url, self.backend = amqp, data_dir, db_url, backend

    def token(self, principal: dict) -> str:
        claims = {"sub": principal["user_id"], "role": principal["role"], "sid": principal.get("sid", "s"),
                  **{k: principal[k] for k in ("institution_id", "window_id", "verification_level") if k in principal}}
        return sign_access_token(claims, private_key_file=self.data_dir / "keys" / caller.PRIVATE_KEY_NAME)

    def rpc(self, principal: dict | None = None, ip: str = "203.0.113.10", context: dict | None = None):
        """A proxy calling as the gateway would (address sealed), or with `context` as given."""
        context = dict(context) if context is not None else client_address.sealed(ip, seconds=600)
        if principal:
            context[caller.TOKEN_KEY] = self.token(principal)
        return ClusterRpcProxy({"AMQP_URI": self.amqp}, context_data=context, timeout=20)


@pytest.fixture(scope="module", params=BACKENDS)
def running(request, amqp_uri, pg_databases, tmp_path_factory):  # noqa: F811
    backend = request.param
    data_dir = tmp_path_factory.mktemp(f"delivery-{backend}")
    caller.ensure_dev_key_pair(data_dir / "keys")
    db_url = f"sqlite:///{data_dir / 'delivery.db'}" if backend == "sqlite" else pg_databases.create("delivery")
    upgrade("delivery", db_url)
    env = {**os.environ, "PYTHONPATH": str(REPO), "QI_DATA_DIR": str(data_dir), "QI_AMQP_URI": amqp_uri,
           "QI_DB_URL_DELIVERY": db_url, "QI_METRICS_PORT_DELIVERY": str(_free_port()), "QI_RPC_TIMEOUT": "10"}
    log = open(data_dir / "delivery.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "nameko", "run", "--config", str(REPO / "deploy" / "nameko.yaml"),
                                "services.delivery.service", "services.delivery.tests.interface.fakes"],
                               env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    state = Running(amqp_uri, data_dir, db_url, backend)
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=2) as rpc:
                    assert rpc.delivery.ping()["ok"]
                    break
            except Exception:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((data_dir / "delivery.log").read_text()[-3000:])
                time.sleep(0.5)
        yield state
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
