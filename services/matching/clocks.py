"""Matching's SLA clocks for staff: the demand time-limit list (GET /sla/demands) and the
open clocks the gateway's platform-wide overview composes (list_open_clocks)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common import sla
from services.common.db import utcnow
from services.common.errors import Forbidden

from .demands import READERS, RULES, SUBJECT, actor
from .models import Demand


def sla_demands(session: Session, principal: dict, state: str | None = None, now: dt.datetime | None = None) -> dict:
    """Running demand clocks: overdue, due soon, or (no state) all of them, soonest due first."""
    now = now or utcnow()
    # calendar_gap: clocks without a due date until the year's notice is loaded (open
    # ones, and stops whose verdict waits for it); overdue is due_at against now.
    states = list(sla.OPEN_STATES) + [sla.STOPPED] if state == "calendar_gap" else sla.RUNNING
    clocks = [c for c in sla.list_clocks(session, state=states) if c.subject_type == SUBJECT and c.rule in RULES]
    if state is not None:
        clocks = [c for c in clocks if sla.due_state(c, now) == state]
    demands = {d.id: d for d in session.scalars(select(Demand).where(Demand.id.in_({c.subject_id for c in clocks})))}
    items = [{"demand": demands[c.subject_id], "clock": sla.clock_view(c, now)}
             for c in clocks if c.subject_id in demands]
    return {"state": state or "all", "items": items, "total": len(items)}


def open_clocks(session, principal: dict | None, overdue: bool | None = None,
                calendar_gap: bool | None = None) -> list[dict]:
    """Open SLA clocks of matching (demand response and recommendation), for staff oversight.

    Not an HTTP operation (the gateway's GET /sla/clocks composes every service's), so
    the role is checked here."""
    principal = actor(principal)
    if principal["role"] not in READERS:
        raise Forbidden(f"Role '{principal['role']}' may not do this / 当前角色无权执行该操作")
    return [sla.clock_view(c) for c in sla.list_clocks(session, state=list(sla.OPEN_STATES), overdue=overdue,
                                                       calendar_gap=calendar_gap)]
