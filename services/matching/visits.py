"""Window visit records with the demands collected on them (R-6.3.1.2).

A visit belongs to the window its author was bound to; window staff see their own
window's visits. The window comes from identity at each request (`window_of`, an
operation dependency of the service: see service.MatchingService.operation_dependencies).
"""
from __future__ import annotations

import datetime as dt
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.db import utcnow
from services.common.errors import Forbidden, NotFound, ValidationFailed

from .demands import READERS, EnterpriseLookup, actor, check_enterprise, publish
from .models import Demand, Visit
from .shown import Shown

WindowOf = Callable[[dict], "str | None"]  # the caller's window (window staff), else None


def shown(session: Session, visit: Visit) -> Shown:
    demand_ids = list(session.scalars(select(Demand.id).where(Demand.visit_id == visit.id).order_by(Demand.created_at)))
    return Shown(visit, demand_ids=demand_ids)


def log_visit(session: Session, principal: dict, data: dict, window_of: WindowOf,
              enterprise_lookup: EnterpriseLookup | None = None) -> Shown:
    principal = actor(principal)
    window_id = window_of(principal)
    if not window_id:
        raise Forbidden("Your account is not bound to a window / 账号未绑定服务窗口", code="no_window")
    if data.get("demands") and not data.get("enterprise_user_id"):
        raise ValidationFailed("Demands collected on a visit need the enterprise's account / 需填写企业账号",
                               errors={"enterprise_user_id": ["required when demands are given"]})
    if data.get("enterprise_user_id"):
        # The visit links to the account as much as its demands do: check it even without demands.
        check_enterprise(enterprise_lookup, data["enterprise_user_id"])
    visit = Visit(window_id=window_id, staff_user_id=str(principal["user_id"]),
                  enterprise_user_id=data.get("enterprise_user_id"), enterprise_name=data["enterprise_name"],
                  visited_on=dt.date.fromisoformat(str(data["visited_on"])), notes=data.get("notes") or "",
                  visited_at=utcnow())
    session.add(visit)
    session.flush()
    for item in data.get("demands") or []:
        publish(session, principal, {**item, "enterprise_user_id": data["enterprise_user_id"], "channel": "visit",
                                     "visit_id": visit.id}, enterprise_lookup=enterprise_lookup)
    return shown(session, visit)


def list_visits(session: Session, principal: dict, window_of: WindowOf, limit: int = 50) -> dict:
    principal = actor(principal)
    query = select(Visit)
    if principal["role"] == "window":
        window_id = window_of(principal)
        if not window_id:
            return {"items": [], "total": 0}
        query = query.where(Visit.window_id == window_id)
    elif principal["role"] not in READERS:
        raise Forbidden("Not allowed / 无权查看走访记录")
    rows = list(session.scalars(query.order_by(Visit.visited_at.desc(), Visit.id).limit(limit)))
    return {"items": [shown(session, v) for v in rows], "total": len(rows)}


def get_visit(session: Session, principal: dict, window_of: WindowOf, visit_id: str) -> Shown:
    principal = actor(principal)
    visit = session.get(Visit, visit_id)
    allowed = visit is not None and (principal["role"] in READERS
                                     or (principal["role"] == "window" and visit.window_id
                                         and visit.window_id == window_of(principal)))
    if not allowed:
        raise NotFound("No such visit / 走访记录不存在", code="visit_not_found")
    return shown(session, visit)
