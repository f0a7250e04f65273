"""deploy/: the Grafana dashboard and the Prometheus alert rules only use metrics the
code exports, aggregate them the way they are produced, and the rules pass promtool
(issue 8 point 9). CI sets QI_REQUIRE_PROMTOOL=1 so that a missing promtool fails."""
from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

from services.common import config

DEPLOY = config.REPO_ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "qi-one-stop.json"
ALERTS = sorted((DEPLOY / "alerts").glob("*.yml"))
ALERT_TESTS = sorted((DEPLOY / "alerts" / "tests").glob("*.yml"))
# Gauges read from a database at scrape time: every instance sharing it reports the same value.
DB_GAUGES = {"qi_sla_open_clocks", "qi_sla_open_clocks_by_due_state", "qi_events_parked_pending"}
METRIC = re.compile(r"\b(qi_[a-z0-9_]+)")


def exported_metrics() -> dict[str, str]:
    """Sample name -> type, of everything the services register, plus scrape-time collectors."""
    for module in ("services.gateway.service", "services.identity.service", "services.registry.service",
                   "services.matching.service", "services.common.outbox", "services.common.parking",
                   "services.common.workdays", "services.common.sla"):
        importlib.import_module(module)
    from services.common.parking import ParkedEventsCollector
    from services.common.sla import SlaOpenClocksCollector
    from services.common.workdays import CalendarCoverageCollector
    families = list(REGISTRY.collect())
    for collector in (SlaOpenClocksCollector(None), ParkedEventsCollector(None), CalendarCoverageCollector()):
        families.extend(collector.describe())
        # What a service does at start-up: a name clash (e.g. a gauge named like a
        # counter's base name) raises here rather than in a running service.
        REGISTRY.register(collector)
        REGISTRY.unregister(collector)
    names = {}
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count"),
                "gauge": ("",)}
    for family in families:
        for suffix in suffixes.get(family.type, ("",)):
            names[family.name + suffix] = family.type
    return names


def dashboard_exprs() -> list[tuple[str, str]]:
    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [(panel["title"], target["expr"]) for panel in doc["panels"] for target in panel.get("targets", [])]


def rule_exprs() -> list[tuple[str, str]]:
    out = []
    for path in ALERTS:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            out.extend((rule.get("alert") or rule.get("record"), rule["expr"]) for rule in group["rules"])
    return out


def check_aggregation(where: str, expr: str, exported: dict[str, str]) -> None:
    for name in METRIC.findall(expr):
        assert name in exported, f"{where}: {name} is not exported by the code"
        if exported[name] == "counter" or name.endswith(("_bucket", "_total")):
            # A per-process counter resets on restart: only a rate or increase over a range means anything.
            assert re.search(rf"(increase|rate)\(\s*{name}\[", expr), f"{where}: raw counter {name}: {expr}"
        if name in DB_GAUGES:
            assert not re.search(rf"sum\s*((by|without)\s*\([^)]*\)\s*)?\(\s*{name}\b", expr), \
                f"{where}: summing {name} over instances"


def test_dashboard_queries_use_exported_metrics_without_or():
    exported = exported_metrics()
    exprs = dashboard_exprs()
    assert exprs
    for title, expr in exprs:
        # `a or b` drops b's series wherever a has one with the same labels.
        assert not re.search(r"\bor\b", expr), f"{title}: {expr}"
        check_aggregation(title, expr, exported)
    met = [e for _, e in exprs if "qi_sla_met_total" in e]
    breached = [e for _, e in exprs if "qi_sla_breached_total" in e]
    assert met and breached and not set(met) & set(breached)
    for name in ("qi_sla_open_clocks", "qi_sla_open_clocks_by_due_state", "qi_calendar_covered_days_ahead",
                 "qi_events_parked_pending"):
        assert any(name in METRIC.findall(e) for _, e in exprs), f"no panel shows {name}"


def test_alert_rules_use_exported_metrics_and_cover_the_issue():
    exported = exported_metrics()
    rules = dict(rule_exprs())
    for name, expr in rules.items():
        check_aggregation(name, expr, exported)
    assert {"QiSlaBreached", "QiSlaClocksOverdue", "QiSlaClocksDueSoon", "QiSlaClocksWithoutDueDate",
            "QiCalendarCoverageLow", "QiOutboxBacklogOld", "QiEventsParked", "QiServiceDown"} <= set(rules)
    assert "< 45" in rules["QiCalendarCoverageLow"]
    prometheus = yaml.safe_load((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
    loaded = {p for pattern in prometheus["rule_files"] for p in (DEPLOY).glob(pattern)}
    assert set(ALERTS) <= loaded and ALERTS


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("QI_REQUIRE_PROMTOOL"):
            pytest.fail("promtool is required (QI_REQUIRE_PROMTOOL is set): apt-get install prometheus")
        pytest.skip("promtool not installed (apt-get install prometheus); CI requires it")
    return path


def test_promtool_checks_and_unit_tests_the_alert_rules():
    promtool = _promtool()
    assert ALERTS and ALERT_TESTS
    for args in (["check", "rules", *map(str, ALERTS)], ["check", "config", str(DEPLOY / "prometheus.yml")],
                 ["test", "rules", *map(str, ALERT_TESTS)]):
        result = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120, cwd=DEPLOY)
        assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
