"""Response schemas lose nothing: views made by the real domain functions go through
the gateway's `dump_response` with the route's own schema and come out unchanged.

`dump_response` keeps only the fields a response schema declares, so a view field
missing from the schema would silently disappear from the HTTP response. Every check
here compares the dumped payload with the view itself, both as Python values and as
JSON text (so an int turned into a float, 800 -> 800.0, counts as a change too).
The scenarios walk each object through its life so that the optional, state-dependent
fields (timeline entries of every kind, package shares, review clocks, published
items, case logs, ...) are present at least once.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest

from services.common import sla
from services.common.db import Database, make_engine
from services.common.testing import copy_template, migrated_sqlite_template
from services.gateway.routes import ROUTES
from services.gateway.routing import dump_response

ROUTE_BY_ENDPOINT = {r.endpoint: r for r in ROUTES}


def check(endpoint: str, result):
    """`result` dumped through the response schema of `endpoint` is `result`, field for field."""
    route = ROUTE_BY_ENDPOINT[endpoint]
    assert route.response is not None, f"{endpoint} declares no response schema"
    assert result, f"{endpoint}: an empty result proves nothing"
    dumped = dump_response(route, result)
    assert dumped == result, f"{endpoint}: {_difference(result, dumped)}"
    assert json.dumps(dumped, sort_keys=True, ensure_ascii=False) == json.dumps(result, sort_keys=True,
                                                                                  ensure_ascii=False), endpoint
    return result


def _difference(expected, actual, path="$"):
    """The first place where the dump differs from the view, for a readable failure."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in expected:
            if key not in actual:
                return f"{path}.{key} dropped"
            found = _difference(expected[key], actual[key], f"{path}.{key}")
            if found:
                return found
        extra = set(actual) - set(expected)
        return f"{path}: added {sorted(extra)}" if extra else None
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return f"{path}: {len(expected)} items became {len(actual)}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            found = _difference(e, a, f"{path}[{i}]")
            if found:
                return found
        return None
    if expected != actual or type(expected) is not type(actual):
        return f"{path}: {expected!r} became {actual!r}"
    return None


def _database(template, directory):
    directory.mkdir()
    return Database(make_engine(f"sqlite:///{copy_template(template, directory)}"))


@pytest.fixture(scope="module")
def registry_template(tmp_path_factory):
    return migrated_sqlite_template("registry", tmp_path_factory.mktemp("registry-template"))


@pytest.fixture
def rdb(registry_template, tmp_path, monkeypatch):
    monkeypatch.setenv("QI_DATA_DIR", str(tmp_path))
    database = _database(registry_template, tmp_path / "registry")
    yield database
    database.engine.dispose()


# -- registry ---------------------------------------------------------------------------------

OPERATOR = {"user_id": "user-op", "role": "operator"}
APPLICANT = {"user_id": "user-ent-1", "role": "enterprise"}
MON = dt.datetime(2026, 10, 12, 2, 0)       # Monday 10:00 Shanghai


def _act(rdb, endpoint, fn, *args, **kwargs):
    with rdb.transaction() as session:
        return check(endpoint, fn(session, *args, **kwargs))


def _read(rdb, endpoint, fn, *args, **kwargs):
    with rdb.read() as session:
        return check(endpoint, fn(session, *args, **kwargs))


def test_application_institution_and_changes_keep_every_field(rdb):
    from services.registry import institutions
    from services.registry.schemas import (ApplicationIn, CapabilityCreate, ChangeIn, DeregistrationIn, load)
    from services.registry.tests.helpers import PDF, application, attachment

    app = _act(rdb, "POST /applications", institutions.submit_application, APPLICANT,
               load(ApplicationIn, application(1)), at=MON)
    app_id = app["application_id"]
    assert app["review_clock"] and app["attachments"]
    _act(rdb, "POST /applications/<application_id>/review", institutions.review_application, OPERATOR, app_id,
         "return", ["缺少诚信承诺书盖章"], at=MON + dt.timedelta(hours=2))
    with rdb.read() as session:
        check("GET /sla/registry/clocks",
              [sla.clock_view(c) for c in sla.list_clocks(session, state=list(sla.OPEN_STATES), overdue=None)])
    _act(rdb, "PUT /applications/<application_id>", institutions.resubmit_application, APPLICANT, app_id,
         load(ApplicationIn, application(1)), at=MON + dt.timedelta(days=1))
    approved = _act(rdb, "POST /applications/<application_id>/review", institutions.review_application, OPERATOR,
                    app_id, "approve", [], at=MON + dt.timedelta(days=2))
    assert approved["decided_at"] and len(approved["history"]) == 4
    _read(rdb, "GET /applications/<application_id>", institutions.get_application, APPLICANT, app_id)
    _read(rdb, "GET /applications", institutions.list_applications, OPERATOR, limit=50, offset=0)

    inst_id = app["institution_id"]
    staff = {"user_id": "inst-staff", "role": "institution", "institution_id": inst_id}
    _act(rdb, "POST /institutions/<institution_id>/capabilities", institutions.add_capability, staff, inst_id,
         load(CapabilityCreate, {"category": "testing", "item_code": "tst.matching", "product": "电线电缆",
                                 "parameter": "导体电阻", "method_standard": "GB/T 3956-2008", "price_yuan": "650.5",
                                 "cycle_working_days": 5}))
    profile = _read(rdb, "GET /institutions/<institution_id>", institutions.get_institution, staff, inst_id)
    assert "legal_representative" in profile and len(profile["capabilities"]) == 2
    _read(rdb, "GET /institutions/<institution_id>", institutions.get_institution, None, inst_id)
    _read(rdb, "GET /institutions/<institution_id>/capabilities", institutions.list_capabilities, None, inst_id)
    _read(rdb, "GET /institutions/<institution_id>/qualifications", institutions.list_qualifications, None, inst_id)
    _read(rdb, "GET /institutions", institutions.list_institutions, OPERATOR, limit=50, offset=0)

    change_body = {"name": "泰州新名称检测有限公司", "legal_representative": "钱新任", "change_date": "2026-10-01",
                   "attachments": {"business_licence": attachment(), "supporting": [attachment(PDF + b"approval")]}}
    change = _act(rdb, "POST /institutions/<institution_id>/changes", institutions.submit_change, staff, inst_id,
                  load(ChangeIn, change_body), at=MON + dt.timedelta(days=3))
    change_id = change["change_id"]
    assert change["before"] and change["after"]["legal_representative"] and change["attachments"]["supporting"]
    _act(rdb, "POST /institutions/<institution_id>/changes/<change_id>/review", institutions.review_change,
         OPERATOR, inst_id, change_id, "return", ["缺少房产证明"], at=MON + dt.timedelta(days=4))
    _act(rdb, "PUT /institutions/<institution_id>/changes/<change_id>", institutions.resubmit_change, staff,
         inst_id, change_id, load(ChangeIn, {**change_body, "address": "泰州市海陵区新址路 9 号"}),
         at=MON + dt.timedelta(days=5))
    done = _act(rdb, "POST /institutions/<institution_id>/changes/<change_id>/review", institutions.review_change,
                OPERATOR, inst_id, change_id, "approve", [], at=MON + dt.timedelta(days=6))
    assert [h["action"] for h in done["history"]] == ["submitted", "returned", "resubmitted", "approved"]
    assert done["history"][0]["fields"] and done["history"][1]["reasons"] and done["review_clock"]["history"]
    _read(rdb, "GET /institutions/<institution_id>/changes/<change_id>", institutions.get_change, staff, inst_id,
          change_id)
    _read(rdb, "GET /institutions/<institution_id>/changes", institutions.list_changes, OPERATOR, inst_id)

    gone = _act(rdb, "POST /institutions/<institution_id>/deregistration", institutions.deregister, staff, inst_id,
                load(DeregistrationIn, {"reason": "停业", "closed_on": "2026-10-20"}), at=MON + dt.timedelta(days=9))
    assert gone["deregistered_at"]
    events = _read(rdb, "GET /institutions/<institution_id>/history", institutions.history, OPERATOR, inst_id)
    assert any(e["detail"] for e in events)


def test_windows_and_cases_keep_every_field(rdb):
    from services.registry import cases, institutions, windows
    from services.registry.schemas import (ApplicationIn, CaseIn, CaseLogIn, WindowIn, WindowServicesIn,
                                           WindowUpdate, load)
    from services.registry.tests.helpers import application

    app = _act(rdb, "POST /applications", institutions.submit_application, APPLICANT,
               load(ApplicationIn, application(2)), at=MON)
    _act(rdb, "POST /applications/<application_id>/review", institutions.review_application, OPERATOR,
         app["application_id"], "approve", [], at=MON + dt.timedelta(days=1))

    def window(kind, code, **extra):
        return _act(rdb, "POST /windows", windows.create, OPERATOR, load(WindowIn, {
            "kind": kind, "code": code, "name": f"{code} 窗口", "region": "高港区", "address": "高港区某路 1 号",
            "contact": "0523-86000009", "opening_hours": "工作日 9:00-17:00", **extra}))

    window("park_station", "PS-TEST", services=["tst.matching"])
    institution_window = window("institution", "IW-TEST", institution_id=app["institution_id"])
    assert institution_window["published_items"]
    enterprise = window("enterprise", "EW-TEST", public=False, case_info={"topic": "新能源开关柜研制"})
    assert enterprise["case_info"]
    wid = enterprise["window_id"]
    _read(rdb, "GET /windows", windows.list_windows, OPERATOR)
    _read(rdb, "GET /windows", windows.list_windows, None)
    _read(rdb, "GET /windows/<window_id>", windows.get, OPERATOR, wid)
    _act(rdb, "PUT /windows/<window_id>/services", windows.set_services, OPERATOR, wid,
         load(WindowServicesIn, {"services": ["tst.matching"]})["services"])
    _act(rdb, "PATCH /windows/<window_id>", windows.update_identity, OPERATOR, wid,
         load(WindowUpdate, {"name": "示范企业服务窗口", "opening_hours": "预约"}))

    owner = {"user_id": "ent-owner", "role": "enterprise"}
    case = _act(rdb, "POST /windows/<window_id>/cases", cases.create_case, OPERATOR, wid, load(CaseIn, {
        "title": "新能源开关柜研制", "description": "温升试验", "enterprise_user_id": owner["user_id"],
        "members": [{"user_id": "inst-expert", "role": "expert"}, {"user_id": "op-lead", "role": "lead"}]}))
    cid = case["case_id"]
    logged = _act(rdb, "POST /windows/<window_id>/cases/<case_id>/log", cases.add_log, owner, wid, cid,
                  load(CaseLogIn, {"kind": "technical_problem", "summary": "温升试验未通过", "detail": "A 相超标"}))
    assert logged["log"] and logged["members"]
    _act(rdb, "PUT /windows/<window_id>/cases/<case_id>/team", cases.set_team, OPERATOR, wid, cid,
         [{"user_id": "op-lead", "role": "lead"}])
    _read(rdb, "GET /windows/<window_id>/cases/<case_id>", cases.get_case, owner, wid, cid)
    _read(rdb, "GET /windows/<window_id>/cases", cases.list_cases, owner, wid)
