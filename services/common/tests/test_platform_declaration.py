"""services/common/platform.py is the one declaration of the platform's services and roles.

What cannot import it (SQL, compose, Prometheus and alert YAML) is checked against it here,
and so is every Python list that used to repeat it.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from services.common import config, migrate, platform

REPO = platform.REPO
SERVICES_DIR = REPO / "services"


def test_names_are_unique_and_the_gateway_starts_last():
    names = platform.names()
    assert len(set(names)) == len(names)
    assert names[-1] == "gateway"
    ports = [s.metrics_port for s in platform.SERVICES]
    assert len(set(ports)) == len(ports)


def test_python_lists_come_from_the_declaration():
    from deploy import local
    assert local.SERVICE_ORDER == platform.names()
    assert local.running_services() == list(platform.present())
    assert migrate.SERVICES_WITH_DB == platform.with_database()
    assert config.DEFAULT_METRICS_PORTS == {s.name: s.metrics_port for s in platform.SERVICES}


def test_init_sql_creates_one_database_per_service_that_has_one():
    sql = (REPO / "deploy/postgres/init.sql").read_text(encoding="utf-8")
    created = re.findall(r"^\s*CREATE DATABASE (\w+);", sql, flags=re.M | re.I)
    assert sorted(created) == sorted(platform.with_database()), created
    assert "gateway" not in created


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))


def test_compose_runs_every_present_service_on_its_metrics_port(compose):
    services = compose["services"]
    for name in platform.present():
        assert name in services, f"docker-compose.yml has no service block for {name!r}"
        block = services[name]
        assert f"services.{name}.service" in block["command"], block["command"]
        env = block.get("environment") or {}
        # The port comes from config.metrics_port (platform.py); a block may say it, never otherwise.
        if f"QI_METRICS_PORT_{name.upper()}" in env:
            assert str(env[f"QI_METRICS_PORT_{name.upper()}"]) == str(platform.spec(name).metrics_port)
        if name != "gateway":
            for port in block.get("expose", []):
                assert str(port) == str(platform.spec(name).metrics_port), (name, port)
    # Those that have a database run their migrations in the migrate job (`migrate all`).
    assert "services.common.migrate all" in services["migrate"]["command"]


def _scrape_jobs() -> dict[str, list[str]]:
    prometheus = yaml.safe_load((REPO / "deploy/prometheus.yml").read_text(encoding="utf-8"))
    return {job["job_name"]: [t for c in job["static_configs"] for t in c["targets"]]
            for job in prometheus["scrape_configs"]}


def test_prometheus_scrapes_every_service_on_its_metrics_port():
    jobs = _scrape_jobs()
    gateway_port = "8000"   # docker-compose.yml's gateway port (QI_GATEWAY_PORT's default)
    for service in platform.SERVICES:
        assert service.name in jobs, f"deploy/prometheus.yml has no job {service.name!r}"
        # The gateway serves /metrics on its HTTP port; the others run a MetricsServer.
        port = gateway_port if service.name == "gateway" else service.metrics_port
        assert jobs[service.name] == [f"{service.name}:{port}"], jobs[service.name]
    assert set(jobs) - set(platform.names()) == {"rabbitmq"}


def test_service_down_alert_covers_every_service():
    rules = yaml.safe_load((REPO / "deploy/alerts/qi-one-stop.yml").read_text(encoding="utf-8"))
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]
             if rule.get("alert") == "QiServiceDown"]
    assert len(exprs) == 1
    match = re.search(r'up\{job=~"([^"]+)"\}', exprs[0])
    assert match, exprs[0]
    assert set(match.group(1).split("|")) == set(platform.names())


# -- roles ---------------------------------------------------------------------------------

ROLE_NAMES = set(platform.ROLES)


def _role_literals(path: Path) -> list[str]:
    """Tuple, list and set literals of two or more role names (a role list written again)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and len(node.elts) >= 2:
            values = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if len(values) == len(node.elts) and set(values) <= ROLE_NAMES:
                found.append(f"{path.relative_to(REPO)}:{node.lineno} {tuple(values)}")
    return found


def _sources(under: Path, skip=()) -> list[Path]:
    out = []
    for path in sorted(under.rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if "/tests/" in rel or "/migrations/" in rel or rel == "services/common/platform.py":
            continue   # migrations are frozen history; tests may spell roles out
        if any(rel.startswith(s) for s in skip):
            continue
        out.append(path)
    return out


def test_no_role_list_outside_the_declaration():
    found = [hit for path in _sources(SERVICES_DIR) for hit in _role_literals(path)]
    assert not found, "\n".join(found)
