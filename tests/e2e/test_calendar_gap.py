"""Issue 8 point 8 end to end: clocks whose due day lies in a year the calendar lacks.

The platform runs as processes on its own calendar directory (packaged coverage,
2020–2026) and its own rules file with the review and recommendation limits raised
to 30 working days, so that clocks started today (2026-12) reach into 2027, for which
no notice is loaded: that is the gap as it exists from 2026-12-29 for 3-day clocks,
without touching any clock. Staff see the clocks as `calendar_gap` with the note; the
operator then loads the synthetic test notice for 2027 (test data, never installed as
real) with the documented command; each service's sweep recomputes its own clocks,
the one met during the gap included.
"""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
import uuid

import pytest

from deploy.local import Platform, running_services
from services.common import config
from services.common.tests.test_workdays import NOTICE_2027
from services.common.workdays import WorkingDayCalendar
from services.registry.tests.helpers import application
from tests.conftest import BACKENDS, own_vhost
from tests.e2e.conftest import Api, free_port

API = "/api/v1"
REVIEW = "registry.application_review"
RECOMMENDATION = "matching.demand_recommendation"
NOTE_ZH = "2027年节假日安排公布并导入后给出截止时间"
NOTE_EN = "The due date follows once the 2027 holiday notice is loaded"
LONG_LIMIT = 30


@pytest.fixture(scope="module", params=BACKENDS)
def gap_platform(request, pg_databases, tmp_path_factory):
    # Its own vhost: the session's e2e platform may still be running on the shared one.
    with own_vhost() as amqp_uri:
        yield from _gap_platform(request.param, amqp_uri, pg_databases, tmp_path_factory)


def _gap_platform(backend, amqp_uri, pg_databases, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp(f"gap-{backend}")
    calendar_dir = data_dir / "calendar"
    calendar_dir.mkdir()
    rules = json.loads(config.sla_rules_file().read_text(encoding="utf-8"))
    for rule in rules["rules"]:
        if rule["name"] in (REVIEW, RECOMMENDATION):
            rule["limit_working_days"] = LONG_LIMIT
    rules_file = data_dir / "sla_rules.json"
    rules_file.write_text(json.dumps(rules, ensure_ascii=False), encoding="utf-8")
    env = {"QI_DATA_DIR": str(data_dir), "QI_AMQP_URI": amqp_uri, "QI_GATEWAY_PORT": str(free_port()),
           "QI_RPC_TIMEOUT": "5", "QI_SMS_SENDER": "log", "QI_DB_POOL_SIZE": "2", "QI_CALENDAR_DIR": str(calendar_dir),
           "QI_SLA_RULES_FILE": str(rules_file), "QI_SLA_SWEEP_SECONDS": "1"}
    for service in running_services():
        env[f"QI_METRICS_PORT_{service.upper()}"] = str(free_port())
    if backend == "postgresql":
        from services.common.migrate import available_services
        for service in available_services():
            env[f"QI_DB_URL_{service.upper()}"] = pg_databases.create(f"gap{service}")
    plat = Platform(env=env, log_dir=data_dir / "log")
    plat.calendar_dir = calendar_dir
    try:
        plat.start()
        plat.seed_demo()
    except Exception:
        plat.stop()
        for log in (data_dir / "log").glob("*.log"):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        raise
    yield plat
    plat.stop()


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def test_gap_clocks_are_listed_explained_and_recomputed_when_the_year_is_loaded(gap_platform, tmp_path):
    api = Api(gap_platform.gateway_url)
    enterprise, operator = api.login("ent-demo"), api.login("operator1")
    serial = uuid.uuid4().int % 9_000_000 + 1_000_000

    waiting = api.post(f"{API}/applications", token=enterprise, json=application(serial))
    assert waiting.status_code == 201, waiting.text
    met = api.post(f"{API}/applications", token=enterprise, json=application(serial + 1))
    assert met.status_code == 201, met.text
    demand = api.post(f"{API}/demands", token=enterprise, json={"title": "电线电缆导体电阻检测",
                                                               "category": "testing", "product": "电线电缆"})
    assert demand.status_code == 201, demand.text
    waiting_id, met_id, demand_id = (waiting.json()["application_id"], met.json()["application_id"],
                                     demand.json()["id"])

    # What the enterprise sees: no due date, and why, in both languages.
    clock = waiting.json()["review_clock"]
    assert clock["due_at"] is None and clock["due_state"] == "calendar_gap"
    assert clock["due_note"] == {"zh": NOTE_ZH, "en": NOTE_EN}
    # Reviewed at once: met during the gap, whatever 2027 will look like.
    approved = api.post(f"{API}/applications/{met_id}/review", token=operator, json={"decision": "approve"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["review_clock"]["state"] == "met" and approved.json()["review_clock"]["due_at"] is None

    # What staff see: the gap is its own list, in neither due-soon nor overdue.
    gap = api.get(f"{API}/sla/clocks?calendar_gap=true", token=operator)
    assert gap.status_code == 200, gap.text
    listed = {(c["subject_id"], c["rule"]) for c in gap.json()}
    assert {(waiting_id, REVIEW), (demand_id, RECOMMENDATION)} <= listed
    assert all(c["due_state"] == "calendar_gap" and c["due_note"]["en"] == NOTE_EN for c in gap.json())
    for query in ("overdue=true", "due_soon=true"):
        other = api.get(f"{API}/sla/clocks?{query}", token=operator).json()
        assert not {(c["subject_id"], c["rule"]) for c in other} & listed, query
    registry_gap = api.get(f"{API}/sla/registry/clocks?calendar_gap=true", token=operator)
    assert registry_gap.status_code == 200, registry_gap.text
    assert waiting_id in {c["subject_id"] for c in registry_gap.json()}
    assert all(c["due_state"] == "calendar_gap" for c in registry_gap.json())
    demands = api.get(f"{API}/sla/demands?state=calendar_gap", token=operator)
    assert demands.status_code == 200, demands.text
    assert [(i["demand"]["id"], i["clock"]["rule"]) for i in demands.json()["items"]
            if i["demand"]["id"] == demand_id] == [(demand_id, RECOMMENDATION)]

    # The operator loads the year (test notice, test calendar dir only).
    notice = tmp_path / "notice-2027.json"
    notice.write_text(json.dumps(NOTICE_2027, ensure_ascii=False), encoding="utf-8")
    loaded = subprocess.run([sys.executable, "-m", "services.common.workdays", "--dir",
                             str(gap_platform.calendar_dir), "load", str(notice)],
                            capture_output=True, text=True, env=gap_platform.env, timeout=60)
    assert loaded.returncode == 0, loaded.stderr
    calendar = WorkingDayCalendar(gap_platform.calendar_dir)

    def review_clock(app_id):
        return api.get(f"{API}/applications/{app_id}", token=operator).json()["review_clock"]

    def expected_due(clock):
        started = dt.datetime.fromisoformat(clock["started_at"].rstrip("Z"))
        return calendar.due_instant(started, LONG_LIMIT).isoformat() + "Z"

    recomputed = wait_for(lambda: review_clock(waiting_id)["due_at"] and review_clock(met_id)["due_at"])
    assert recomputed, "registry did not recompute its clocks after the notice was loaded"
    for app_id, state in ((waiting_id, "running"), (met_id, "met")):
        clock = review_clock(app_id)
        assert clock["state"] == state and clock["calendar_gap"] is False and clock["due_note"] is None
        assert clock["due_at"] == expected_due(clock)
        assert clock["due_local"].startswith("2027-")
    demand_clocks = wait_for(lambda: [c for c in api.get(f"{API}/demands/{demand_id}", token=operator).json()["sla"]
                                      if c["rule"] == RECOMMENDATION and c["due_at"]])
    assert demand_clocks, "matching did not recompute its clocks after the notice was loaded"
    assert demand_clocks[0]["due_state"] in ("on_track", "due_soon") and demand_clocks[0]["due_note"] is None
    gap_after = {(c["subject_id"], c["rule"]) for c in api.get(f"{API}/sla/clocks?calendar_gap=true",
                                                               token=operator).json()}
    assert not gap_after & listed
