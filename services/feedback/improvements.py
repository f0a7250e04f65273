"""Continuous improvement (7.2.1-7.2.2): plan items (source, owner, due in working days, evidence,
a re-check whose result is published) and joint assessments with institutions and users (their
findings, linked to the plan items they lead to)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common import sla
from services.common.audit import audit
from services.common.errors import Conflict, NotFound

from .common import clocks_of, now
from .models import Improvement, InstitutionName

RULE = "feedback.improvement_due"
CASE = "improvement"


def _view(session: Session, item: Improvement) -> Improvement:
    item.clocks = clocks_of(session, CASE, item.id)
    return item


def _named(session: Session, items: list[Improvement]) -> list[Improvement]:
    """The owner's and institution's names from feedback's copy of the registry's (one query for
    the list, no call to another service). An owner that is an account has no name here: feedback
    keeps no copy of accounts, and identity shows names only to whom it may."""
    wanted = {i for item in items for i in (item.owner_id, item.institution_id) if i}
    names = dict(session.execute(select(InstitutionName.id, InstitutionName.name)
                                 .where(InstitutionName.id.in_(wanted or [""]))).all())
    for item in items:
        item.owner_name, item.institution_name = names.get(item.owner_id), names.get(item.institution_id)
    return items


def create(session: Session, principal: dict, data: dict) -> Improvement:
    at = now()
    if data.get("linked_id") and data["kind"] == "assessment" and session.get(Improvement, data["linked_id"]) is None:
        raise NotFound("The linked plan item does not exist / 关联的改进事项不存在", code="improvement_not_found")
    item = Improvement(kind=data["kind"], source=data["source"], title=data["title"], detail=data.get("detail"),
                       owner_id=data.get("owner_id"), institution_id=data.get("institution_id"),
                       linked_id=data.get("linked_id"), due_at=None, state="open",
                       created_by=str(principal["user_id"]), created_at=at)
    session.add(item)
    session.flush()
    if data.get("due_working_days"):
        # An SLA clock with the item's own limit: a due day in a year without a loaded calendar
        # is a calendar gap (due_at null, recomputed by the sweep once the notice is loaded).
        clock = sla.start_clock(session, RULE, CASE, item.id, at=at)
        clock.limit_working_days = data["due_working_days"]
        sla.recompute_due(session, clock, now=at)
        item.due_at = clock.due_at
    audit(session, principal, f"improvement.{data['kind']}_created", "improvement", item.id)
    return _named(session, [_view(session, item)])[0]


def list_items(session: Session, kind=None, state=None, limit=100) -> list[Improvement]:
    stmt = select(Improvement)
    if kind:
        stmt = stmt.where(Improvement.kind == kind)
    if state:
        stmt = stmt.where(Improvement.state == state)
    rows = session.scalars(stmt.order_by(Improvement.created_at.desc()).limit(limit))
    return _named(session, [_view(session, i) for i in rows])


def published(session: Session) -> list[Improvement]:
    """Re-checked plan items: their results are public."""
    return list_items(session, kind="plan_item", state="rechecked", limit=500)


def progress(session: Session, principal: dict, improvement_id: str, data: dict) -> Improvement:
    item = session.get(Improvement, str(improvement_id), with_for_update=True)
    if item is None:
        raise NotFound("No such improvement item / 无此改进事项", code="improvement_not_found")
    if item.kind != "plan_item":
        raise Conflict("Assessments record findings only / 联合评估仅记录结论", code="not_a_plan_item")
    if data["action"] == "evidence":
        if item.state != "open":
            raise Conflict("Evidence is given while open / 仅在进行中提交证据", code="improvement_wrong_state")
        item.evidence, item.state = data["text"], "done"
        sla.stop_clock(session, (RULE, CASE, item.id), at=now(), missing_ok=True)
    else:
        if item.state != "done":
            raise Conflict("Re-check after the evidence / 提交证据后方可复查", code="improvement_wrong_state")
        item.recheck_result, item.state = data["text"], "rechecked"
    audit(session, principal, f"improvement.{data['action']}", "improvement", item.id)
    return _named(session, [_view(session, item)])[0]
