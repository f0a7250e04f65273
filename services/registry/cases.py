"""Enterprise windows' point-to-point cases (R-4.2.3.1/2 企业服务窗口, 点对点协同服务).

An operator opens a case on an enterprise window for one enterprise account and
names its team (user ids with a role in the case: lead, expert, institution,
window, enterprise contact). The team and the enterprise keep a case log of
what the case works on: instrument selection (仪器选型), product development
(产品研发), technical problems (技术难题).

An operator closes a case when its work is done: `case.closed` is published
with the "finished service" block (services.common.evaluation), so feedback
invites the enterprise to evaluate the case exactly once. Closing a closed case
changes nothing and publishes nothing; a closed case takes no more log entries.

Who sees a case: the enterprise it serves, the members of its team and
operators, nobody else, not even a regulator or the window's own staff unless
they are on the team. To anyone else the case does not exist (404, not 403:
a key enterprise's project is itself confidential).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.audit import audit
from services.common.db import utcnow
from services.common.errors import Conflict, NotFound
from services.common.events import iso_utc
from services.common.outbox import record_event

from . import access
from .journal import SOURCE
from .models import EnterpriseCase, EnterpriseCaseLog, EnterpriseCaseMember, Window, new_id


def _window(session: Session, window_id: str) -> Window:
    window = session.get(Window, window_id)
    if window is None:
        raise NotFound("No such window / 窗口不存在", code="window_not_found")
    return window


def _members(session: Session, case_id: str) -> list[EnterpriseCaseMember]:
    return list(session.scalars(select(EnterpriseCaseMember).where(EnterpriseCaseMember.case_id == case_id)
                                .order_by(EnterpriseCaseMember.added_at, EnterpriseCaseMember.user_id)))


def relation(session: Session, principal: dict | None, case: EnterpriseCase) -> str | None:
    """'operator', 'enterprise', 'member' or None (may not see the case)."""
    if not principal or not principal.get("user_id"):
        return None
    if principal.get("role") in access.OPERATORS:
        return "operator"
    user_id = str(principal["user_id"])
    if user_id == case.enterprise_user_id:
        return "enterprise"
    if session.get(EnterpriseCaseMember, (case.id, user_id)) is not None:
        return "member"
    return None


def _not_found():
    return NotFound("No such case / 案例不存在", code="case_not_found")


def _visible_case(session: Session, principal: dict, window_id: str, case_id: str) -> tuple[EnterpriseCase, str]:
    access.require_principal(principal)
    case = session.get(EnterpriseCase, str(case_id))
    if case is None or case.window_id != window_id:
        raise _not_found()
    rel = relation(session, principal, case)
    if rel is None:
        raise _not_found()
    return case, rel


def case_view(session: Session, case: EnterpriseCase, rel: str, brief: bool = False) -> dict:
    view = {"case_id": case.id, "window_id": case.window_id, "enterprise_user_id": case.enterprise_user_id,
            "title": case.title, "description": case.description, "status": case.status,
            "created_by": case.created_by, "created_at": iso_utc(case.created_at),
            "updated_at": iso_utc(case.updated_at), "my_relation": rel,
            "members": _members(session, case.id)}
    if not brief:
        rows = session.scalars(select(EnterpriseCaseLog).where(EnterpriseCaseLog.case_id == case.id)
                               .order_by(EnterpriseCaseLog.at, EnterpriseCaseLog.id))
        view["log"] = list(rows)
    return view


def _set_members(session: Session, case: EnterpriseCase, members: list[dict], by: str, at: dt.datetime) -> None:
    current = {m.user_id: m for m in _members(session, case.id)}
    wanted = {m["user_id"]: m["role"] for m in members}
    for user_id, member in current.items():
        if user_id not in wanted:
            session.delete(member)
        elif member.role != wanted[user_id]:
            member.role = wanted[user_id]
    for user_id, role in wanted.items():
        if user_id not in current:
            session.add(EnterpriseCaseMember(case_id=case.id, user_id=user_id, role=role, added_by=by, added_at=at))
    session.flush()


def create_case(session: Session, principal: dict, window_id: str, data: dict, at: dt.datetime | None = None) -> dict:
    principal = access.require_role(principal, access.OPERATORS)
    window = _window(session, window_id)
    if window.kind != "enterprise":
        raise Conflict("Cases belong to enterprise windows / 仅企业服务窗口可建立点对点服务案例",
                       code="not_enterprise_window")
    at = at or utcnow()
    case = EnterpriseCase(id=new_id(), window_id=window.id, enterprise_user_id=data["enterprise_user_id"],
                          title=data["title"], description=data.get("description"), status="open",
                          created_by=str(principal["user_id"]), created_at=at, updated_at=at)
    session.add(case)
    session.flush()
    _set_members(session, case, data.get("members", []), str(principal["user_id"]), at)
    record_event(session, SOURCE, "case.opened", case.id, {
        "case_id": case.id, "window_id": case.window_id, "enterprise_user_id": case.enterprise_user_id,
        "opened_at": iso_utc(at)})
    audit(session, principal, "case.created", "enterprise_case", case.id, owner_id=case.enterprise_user_id,
          detail={"window_id": window.id, "members": [m["user_id"] for m in data.get("members", [])]})
    return case_view(session, case, "operator")


def list_cases(session: Session, principal: dict, window_id: str) -> list[dict]:
    principal = access.require_principal(principal)
    _window(session, window_id)
    out = []
    for case in session.scalars(select(EnterpriseCase).where(EnterpriseCase.window_id == window_id)
                                .order_by(EnterpriseCase.created_at, EnterpriseCase.id)):
        rel = relation(session, principal, case)
        if rel is not None:
            out.append(case_view(session, case, rel, brief=True))
    return out


def get_case(session: Session, principal: dict, window_id: str, case_id: str) -> dict:
    case, rel = _visible_case(session, principal, window_id, case_id)
    return case_view(session, case, rel)


def set_team(session: Session, principal: dict, window_id: str, case_id: str, members: list[dict],
             at: dt.datetime | None = None) -> dict:
    case, rel = _visible_case(session, principal, window_id, case_id)
    access.require_role(principal, access.OPERATORS)
    at = at or utcnow()
    before = sorted(m.user_id for m in _members(session, case.id))
    _set_members(session, case, members, str(principal["user_id"]), at)
    case.updated_at = at
    audit(session, principal, "case.team_set", "enterprise_case", case.id, owner_id=case.enterprise_user_id,
          detail={"before": before, "after": sorted(m["user_id"] for m in members)})
    return case_view(session, case, rel)


def replace_team(session: Session, principal: dict, window_id: str, case_id: str, data: dict) -> dict:
    """The operation: a loaded CaseTeamIn."""
    return set_team(session, principal, window_id, case_id, data["members"])


def add_log(session: Session, principal: dict, window_id: str, case_id: str, data: dict,
            at: dt.datetime | None = None) -> dict:
    case, rel = _visible_case(session, principal, window_id, case_id)
    if case.status != "open":
        raise Conflict("The case is closed / 案例已结束", code="case_closed")
    at = at or utcnow()
    session.add(EnterpriseCaseLog(case_id=case.id, kind=data["kind"], summary=data["summary"],
                                  detail=data.get("detail"), author_id=str(principal["user_id"]),
                                  author_role=str(principal["role"]), at=at))
    case.updated_at = at
    session.flush()
    return case_view(session, case, rel)


def close_case(session: Session, principal: dict, window_id: str, case_id: str, at: dt.datetime | None = None) -> dict:
    """The case's work is done (operators): publishes `case.closed`, a finished service to evaluate."""
    case, rel = _visible_case(session, principal, window_id, case_id)
    access.require_role(principal, access.OPERATORS)
    if case.status == "closed":
        return case_view(session, case, rel)
    at = at or utcnow()
    case.status, case.updated_at = "closed", at
    window = _window(session, case.window_id)
    lead = next((m.user_id for m in _members(session, case.id) if m.role == "lead"), None)
    finished = iso_utc(at)
    record_event(session, SOURCE, "case.closed", case.id, {
        "case_id": case.id, "window_id": case.window_id, "enterprise_user_id": case.enterprise_user_id,
        "closed_at": finished,
        "evaluation": {"service_type": "window_case", "service_id": case.id,
                       "enterprise_id": case.enterprise_user_id, "institution_id": window.institution_id,
                       "window_id": case.window_id, "handler_id": lead or str(principal["user_id"]),
                       "finished_at": finished}})
    audit(session, principal, "case.closed", "enterprise_case", case.id, owner_id=case.enterprise_user_id)
    session.flush()
    return case_view(session, case, rel)
