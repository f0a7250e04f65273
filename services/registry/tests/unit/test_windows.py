"""R-4.1.2/R-4.2.1.4 window identity edited by operators; R-4.2.3.1/2 enterprise-window cases
with a team and a case log, seen only by the enterprise, the team and operators."""
from __future__ import annotations

import pytest

from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.common.schemas import load
from services.registry import cases, windows
from services.registry.contract.schemas_cases import CaseIn, CaseLogIn
from services.registry.contract.schemas_windows import WindowIn, WindowUpdate

from ..helpers import dumped, events

OPERATOR = {"user_id": "op-1", "role": "operator"}
REGULATOR = {"user_id": "reg-1", "role": "regulator"}
OWNER = {"user_id": "ent-owner", "role": "enterprise"}
OTHER_ENTERPRISE = {"user_id": "ent-other", "role": "enterprise"}
EXPERT = {"user_id": "inst-expert", "role": "institution", "institution_id": "i-1"}
WINDOW_STAFF = {"user_id": "win-staff", "role": "window", "window_id": "ew-test"}


def _window(db, kind="enterprise", code="EW-TEST", public=False):
    body = {"kind": kind, "code": code, "name": "示范企业服务窗口", "region": "高港区", "address": "高港区某路 1 号",
            "contact": "0523-86000009", "opening_hours": "预约", "public": public}
    with db.transaction() as session:
        return windows.create(session, OPERATOR, load(WindowIn, body))


def test_operators_edit_window_identity_and_code_stays_unique(db):
    station = _window(db, kind="park_station", code="PS-TEST", public=True)
    _window(db, kind="park_station", code="PS-OTHER", public=True)
    change = load(WindowUpdate, {"name": "泰州医药高新区质量基础设施服务站（新址）", "address": "药城大道 99 号",
                                 "contact": "0523-86000099", "opening_hours": "工作日 8:30-18:00", "code": "PS-NEW"})
    with db.transaction() as session:
        out = windows.update_identity(session, OPERATOR, station["window_id"], change)
    assert (out["name"], out["code"], out["window_id"]) == ("泰州医药高新区质量基础设施服务站（新址）", "PS-NEW", "ps-test")
    with db.transaction() as session, pytest.raises(Conflict):
        windows.update_identity(session, OPERATOR, station["window_id"], {"code": "PS-OTHER"})
    for who in (REGULATOR, {"user_id": "w", "role": "window", "window_id": "ps-test"}):
        with db.transaction() as session, pytest.raises(Forbidden):
            windows.update_identity(session, who, station["window_id"], {"name": "x"})
    with pytest.raises(ValidationFailed):
        load(WindowUpdate, {})
    # taking it off the public list hides it from the public
    with db.transaction() as session:
        windows.update_identity(session, OPERATOR, station["window_id"], {"public": False})
    with db.read() as session:
        with pytest.raises(NotFound):
            windows.get(session, None, station["window_id"])
        assert windows.get(session, OPERATOR, station["window_id"])["public"] is False


def _case(db, window_id):
    body = {"title": "新能源开关柜研制", "enterprise_user_id": OWNER["user_id"],
            "members": [{"user_id": EXPERT["user_id"], "role": "expert"},
                        {"user_id": "op-lead", "role": "lead"}]}
    with db.transaction() as session:
        return dumped("create_case", cases.create_case(session, OPERATOR, window_id, load(CaseIn, body)))


def test_case_team_and_log_visible_to_enterprise_team_and_operators_only(db):
    window = _window(db)
    case = _case(db, window["window_id"])
    wid, cid = window["window_id"], case["case_id"]
    assert {m["user_id"]: m["role"] for m in case["members"]} == {"inst-expert": "expert", "op-lead": "lead"}

    entries = [(EXPERT, "instrument_selection", "推荐局放检测仪选型"), (OWNER, "technical_problem", "温升试验未通过"),
               (OPERATOR, "product_development", "样机送检安排")]
    for who, kind, summary in entries:
        with db.transaction() as session:
            cases.add_log(session, who, wid, cid, load(CaseLogIn, {"kind": kind, "summary": summary}))
    with db.read() as session:
        for who, relation in ((OWNER, "enterprise"), (EXPERT, "member"), (OPERATOR, "operator")):
            seen = dumped("get_case", cases.get_case(session, who, wid, cid))
            assert seen["my_relation"] == relation
            assert [(e["kind"], e["author_id"]) for e in seen["log"]] == [
                ("instrument_selection", "inst-expert"), ("technical_problem", "ent-owner"),
                ("product_development", "op-1")]
            assert [c["case_id"] for c in cases.list_cases(session, who, wid)] == [cid]
        # everyone else: the case does not exist for them, in detail or in lists
        for stranger in (OTHER_ENTERPRISE, REGULATOR, WINDOW_STAFF, {"user_id": "p", "role": "person"}):
            with pytest.raises(NotFound):
                cases.get_case(session, stranger, wid, cid)
            assert cases.list_cases(session, stranger, wid) == []
    with db.transaction() as session, pytest.raises(NotFound):
        cases.add_log(session, OTHER_ENTERPRISE, wid, cid, {"kind": "other", "summary": "x"})
    # the team is the operators' to set; a member cannot add themselves a colleague
    with db.transaction() as session, pytest.raises(Forbidden):
        cases.set_team(session, EXPERT, wid, cid, [{"user_id": "friend", "role": "expert"}])
    with db.transaction() as session:
        cases.set_team(session, OPERATOR, wid, cid, [{"user_id": "op-lead", "role": "lead"},
                                                     {"user_id": WINDOW_STAFF["user_id"], "role": "window"}])
    with db.read() as session:
        with pytest.raises(NotFound):                          # removed from the team: no longer sees it
            cases.get_case(session, EXPERT, wid, cid)
        assert cases.get_case(session, WINDOW_STAFF, wid, cid)["my_relation"] == "member"


def test_cases_only_on_enterprise_windows(db):
    station = _window(db, kind="park_station", code="PS-TEST", public=True)
    with pytest.raises(Conflict):
        _case(db, station["window_id"])
    with pytest.raises(NotFound):
        _case(db, "no-such-window")
    with pytest.raises(ValidationFailed):
        load(CaseIn, {"title": "x", "enterprise_user_id": "e", "members": [{"user_id": "a", "role": "expert"},
                                                                          {"user_id": "a", "role": "lead"}]})


def test_enterprise_window_case_summary_is_for_operators_only(db):
    body = {"kind": "enterprise", "code": "EW-SUM", "name": "示范企业服务窗口", "region": "高港区",
            "address": "高港区某路 1 号", "contact": "0523-86000009", "opening_hours": "预约", "public": True,
            "case_info": {"topic": "新能源开关柜研制"}}
    with db.transaction() as session:
        created = windows.create(session, OPERATOR, load(WindowIn, body))
        window = session.get(windows.Window, created["window_id"])
        assert windows.view(session, window, OPERATOR)["case_info"] == {"topic": "新能源开关柜研制"}
        for who in (REGULATOR, WINDOW_STAFF, OWNER, None):
            assert "case_info" not in windows.view(session, window, who)


def test_a_window_binding_counts_only_for_window_staff(db):
    hidden = _window(db, kind="park_station", code="PS-HIDDEN", public=False)
    former_staff = {"user_id": "ex", "role": "enterprise", "window_id": hidden["window_id"]}
    with db.transaction() as session, pytest.raises(NotFound):
        windows.get(session, former_staff, hidden["window_id"])
    with db.transaction() as session, pytest.raises(Forbidden):
        windows.set_services(session, former_staff, hidden["window_id"], [])
    staff = {"user_id": "w", "role": "window", "window_id": hidden["window_id"]}
    with db.transaction() as session:
        assert windows.get(session, staff, hidden["window_id"])["window_id"] == hidden["window_id"]


def test_closing_a_case_publishes_one_finished_service_to_evaluate(db):
    from services.registry.contract.events import CaseClosedData

    window = _window(db)
    case = _case(db, window["window_id"])
    wid, cid = window["window_id"], case["case_id"]
    with db.transaction() as session, pytest.raises(Forbidden):
        cases.close_case(session, OWNER, wid, cid)
    with db.transaction() as session:
        closed = dumped("close_case", cases.close_case(session, OPERATOR, wid, cid))
    assert closed["status"] == "closed"
    with db.transaction() as session:                      # closing again changes and publishes nothing
        assert dumped("close_case", cases.close_case(session, OPERATOR, wid, cid))["status"] == "closed"
    [event] = events(db, "case.closed")
    assert CaseClosedData().validate(event["data"]) == {}
    assert event["data"]["evaluation"] == {
        "service_type": "window_case", "service_id": cid, "enterprise_id": OWNER["user_id"], "institution_id": None,
        "window_id": wid, "handler_id": "op-lead", "finished_at": event["data"]["closed_at"]}
    with db.transaction() as session, pytest.raises(Conflict):
        cases.add_log(session, OWNER, wid, cid, load(CaseLogIn, {"kind": "other", "summary": "再补一条"}))
