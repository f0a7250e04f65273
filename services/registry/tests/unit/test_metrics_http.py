"""R-6.1.2 made observable: a late review raises qi_sla_breached_total{rule="registry.application_review"}
by exactly one, read the way Prometheus reads it: over HTTP from the port the registry's own
MetricsServer dependency opens (QI_METRICS_PORT_REGISTRY), not from the in-process registry."""
from __future__ import annotations

import datetime as dt
import socket
from types import SimpleNamespace

import requests
from prometheus_client.parser import text_string_to_metric_families

from services.common.nameko_ext import MetricsServer
from services.registry import applications

from ..helpers import application
from ..helpers import OPERATOR, WED, submit

RULE = {"rule": "registry.application_review"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _scrape(port: int) -> dict[str, float]:
    response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert response.status_code == 200
    values = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name in ("qi_sla_breached_total", "qi_sla_met_total") and sample.labels == RULE:
                values[sample.name] = sample.value
    return values


def test_late_review_counts_one_breach_on_the_metrics_port(db, monkeypatch):
    port = _free_port()
    monkeypatch.setenv("QI_METRICS_PORT_REGISTRY", str(port))
    monkeypatch.setenv("QI_METRICS_ADDR", "127.0.0.1")
    server = MetricsServer()
    # What nameko does when the registry container starts: bind, then setup() opens the port.
    server.container = SimpleNamespace(service_name="registry")
    server.setup()
    before = _scrape(port)

    late = submit(db)                                      # Wed 30 Sep 2026, due Sat 10 Oct (调休 working day)
    with db.transaction() as session:
        decided = applications.review_application(session, OPERATOR, late["application_id"], "approve",
                                                  at=dt.datetime(2026, 10, 12, 2, 0))   # Mon 12 Oct: late
    assert decided["review_clock"]["state"] == "breached"
    on_time = submit(db, application(2))
    with db.transaction() as session:
        applications.review_application(session, OPERATOR, on_time["application_id"], "approve",
                                        at=WED + dt.timedelta(hours=3))
    # a failed (rolled back) late decision counts nothing
    third = submit(db, application(3))
    try:
        with db.transaction() as session:
            applications.review_application(session, OPERATOR, third["application_id"], "reject", ["x"],
                                            at=dt.datetime(2026, 10, 12, 2, 0))
            raise RuntimeError("commit fails")
    except RuntimeError:
        pass

    after = _scrape(port)
    assert after["qi_sla_breached_total"] == before.get("qi_sla_breached_total", 0) + 1
    assert after["qi_sla_met_total"] == before.get("qi_sla_met_total", 0) + 1
