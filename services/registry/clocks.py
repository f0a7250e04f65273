"""The registry's open review clocks (applications, changes), for staff."""
from __future__ import annotations

from sqlalchemy.orm import Session

from services.common import sla

from . import access


def open_clocks(session: Session, principal: dict, state=None, overdue=None, calendar_gap=None) -> list[dict]:
    """Open clocks of this service: GET /sla/clocks composes them with the other services'."""
    access.require_role(principal, access.READERS)
    return [sla.clock_view(c) for c in sla.list_clocks(session, state=state or list(sla.OPEN_STATES),
                                                         overdue=overdue, calendar_gap=calendar_gap)]


def review_clocks(session: Session, principal: dict, overdue=None, calendar_gap=None, due_soon=None) -> list[dict]:
    clocks = open_clocks(session, principal, overdue=overdue, calendar_gap=calendar_gap)
    if due_soon is not None:
        clocks = [c for c in clocks if bool(c.get("due_soon")) == due_soon]
    return clocks
