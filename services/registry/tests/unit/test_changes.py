"""R-6.1.3: a change is reviewed like an application: return for supplement, resubmission
restarts its own review clock (registry.change_review), every step in the history."""
from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from prometheus_client import REGISTRY
from sqlalchemy import text

from services.common import migrate, sla
from services.common.db import make_engine
from services.common.errors import Conflict, Forbidden, ValidationFailed
from services.common.schemas import load
from services.registry import changes, institutions, notifications
from services.registry.contract.schemas_applications import ReviewIn
from services.registry.contract.schemas_changes import ChangeIn

from ..helpers import PDF, attachment
from ..helpers import OPERATOR, REGULATOR, approved as _approved, dumped

MON = dt.datetime(2026, 10, 12, 2, 0)       # Monday 10:00 Shanghai


def _body(**overrides):
    body = {"name": "泰州新名称检测有限公司", "change_date": "2026-10-01",
            "attachments": {"business_licence": attachment(), "supporting": [attachment(PDF + b"approval")]}}
    body.update(overrides)
    return load(ChangeIn, body)


def _staff(inst_id):
    return {"user_id": f"staff-{inst_id[:8]}", "role": "institution", "institution_id": inst_id}


def _review(db, inst_id, change_id, decision, reasons=None, at=None):
    with db.transaction() as session:
        return changes.review_change(session, OPERATOR, inst_id, change_id, decision, reasons, at=at)


def test_return_resubmit_restarts_change_clock_and_history_keeps_every_step(db):
    inst_id, other_id = _approved(db, 1), _approved(db, 2)
    staff = _staff(inst_id)
    with db.transaction() as session:
        change = changes.submit_change(session, staff, inst_id, _body(), at=MON)
    clock = change["review_clock"]
    assert clock["rule"] == "registry.change_review" and clock["limit_working_days"] == 3
    assert clock["due_local"].startswith("2026-10-15")         # Tue 13, Wed 14, Thu 15
    assert change["late"] is False and change["submissions"] == 1

    # the schema insists on reasons for a return, like for applications
    with pytest.raises(ValidationFailed):
        load(ReviewIn, {"decision": "return"})
    returned = _review(db, inst_id, change["change_id"], "return", ["缺少房产证明"], at=MON + dt.timedelta(days=1))
    assert returned["status"] == "returned" and returned["review_clock"]["state"] == "paused"
    assert returned["reasons"] == ["缺少房产证明"]
    with pytest.raises(Conflict):
        _review(db, inst_id, change["change_id"], "approve")
    with db.read() as session:
        notes = notifications.notifications(session, staff)["items"]
    assert [n["kind"] for n in notes] == ["change.returned"]

    # only the institution itself (or an operator) supplements, and only a returned change
    with db.transaction() as session, pytest.raises(Forbidden):
        changes.resubmit_change(session, _staff(other_id), inst_id, change["change_id"], _body())
    # resubmitted more than a month after the change: still on time, the first submission counts
    resubmitted_at = dt.datetime(2026, 11, 5, 2, 0)            # Thursday
    with db.transaction() as session:
        again = changes.resubmit_change(
            session, staff, inst_id, change["change_id"],
            _body(address="泰州市海陵区新址路 9 号",
                  attachments={"business_licence": {"file_id": change["attachments"]["business_licence"]["file_id"]},
                               "supporting": [attachment(PDF + b"deed")]}),
            at=resubmitted_at)
    assert again["status"] == "submitted" and again["submissions"] == 2 and again["late"] is False
    assert again["changed_fields"] == ["name", "address"] and again["reasons"] is None
    clock = again["review_clock"]
    assert clock["state"] == "running" and clock["restarts"] == 1
    assert [h["action"] for h in clock["history"]] == ["start", "pause", "restart"]
    assert clock["due_local"].startswith("2026-11-10")         # Fri 6, Mon 9, Tue 10
    with db.transaction() as session, pytest.raises(Conflict):
        changes.resubmit_change(session, staff, inst_id, change["change_id"], _body())

    approved = _review(db, inst_id, change["change_id"], "approve", at=dt.datetime(2026, 11, 9, 2, 0))
    assert approved["status"] == "approved" and approved["review_clock"]["state"] == "met"
    assert [h["action"] for h in approved["history"]] == ["submitted", "returned", "resubmitted", "approved"]
    assert approved["history"][1]["reasons"] == ["缺少房产证明"]
    with db.read() as session:
        profile = institutions.get_institution(session, None, inst_id)
        actions = [h["action"] for h in dumped("institution_history",
                                                institutions.history(session, REGULATOR, inst_id))]
        assert changes.get_change(session, staff, inst_id, change["change_id"])["submissions"] == 2
        with pytest.raises(Forbidden):
            changes.get_change(session, _staff(other_id), inst_id, change["change_id"])
    assert profile["address"] == "泰州市海陵区新址路 9 号" and profile["name"] == "泰州新名称检测有限公司"
    assert actions == ["approved", "change_submitted", "change_returned", "change_resubmitted", "change_approved"]


def test_late_change_review_is_a_breach_of_its_own_rule(db):
    inst_id = _approved(db)
    labels = {"rule": "registry.change_review"}
    before = REGISTRY.get_sample_value("qi_sla_breached_total", labels) or 0
    with db.transaction() as session:
        change = changes.submit_change(session, _staff(inst_id), inst_id, _body(), at=MON)
    rejected = _review(db, inst_id, change["change_id"], "reject", ["证明材料与变更内容不符"],
                       at=dt.datetime(2026, 10, 16, 2, 0))
    assert rejected["review_clock"]["state"] == "breached"
    assert REGISTRY.get_sample_value("qi_sla_breached_total", labels) == before + 1


def test_migration_moves_open_change_clocks_to_the_change_rule(tmp_path, monkeypatch):
    """A change submitted before registry_0002 was timed under the application rule."""
    monkeypatch.setenv("QI_DATA_DIR", str(tmp_path))
    url = f"sqlite:///{tmp_path / 'old.db'}"
    cfg = migrate.alembic_config("registry", url)
    command.upgrade(cfg, "registry_0001")
    command.upgrade(cfg, "common_0003")
    engine = make_engine(url)
    with engine.begin() as conn:
        for clock_id, subject_type in (("c1", "institution_change"), ("c2", "application")):
            conn.execute(text(
                "INSERT INTO sla_clock (id, rule, subject_type, subject_id, state, started_at, due_at, calendar_gap, "
                "overdue, restarts, history) VALUES (:id, 'registry.application_review', :st, 'x', 'running', "
                "'2026-10-12 02:00:00', '2026-10-15 15:59:59', 0, 0, 0, '[]')"), {"id": clock_id, "st": subject_type})
    migrate.upgrade("registry", url)
    with engine.connect() as conn:
        rules = dict(conn.execute(text("SELECT id, rule FROM sla_clock")).all())
    engine.dispose()
    assert rules == {"c1": sla.get_rule("registry.change_review").name, "c2": "registry.application_review"}
