"""Helpers shared by the feedback domain modules: who may do what, steps, times."""
from __future__ import annotations

import contextlib
import contextvars
import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common import sla
from services.common.db import utcnow
from services.common.errors import Forbidden, NotFound
from services.common.events import iso_utc
from services.common.platform import OPERATORS, PLATFORM_STAFF, STAFF_READERS

from .models import Step

SOURCE = "feedback"
STAFF = tuple(sorted(set(PLATFORM_STAFF) | set(STAFF_READERS)))


def iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else iso_utc(moment)


_AT: contextvars.ContextVar[dt.datetime | None] = contextvars.ContextVar("feedback_at", default=None)


def now() -> dt.datetime:
    """The current instant (naive UTC); the demo loader replays a past quarter with `happening_at`."""
    return _AT.get() or utcnow()


@contextlib.contextmanager
def happening_at(moment: dt.datetime):
    """Run domain code as if at `moment` (demo data of a past quarter; never used by requests)."""
    token = _AT.set(moment)
    try:
        yield
    finally:
        _AT.reset(token)


def is_staff(principal: dict | None) -> bool:
    """Platform staff or a regulator: never an account of an institution (its windows included)."""
    return bool(principal) and principal.get("role") in STAFF and not principal.get("institution_id")


def is_platform_staff(principal: dict | None) -> bool:
    """May handle cases on the platform's side (window, operator, admin), not for an institution."""
    return bool(principal) and principal.get("role") in PLATFORM_STAFF and not principal.get("institution_id")


def is_operator(principal: dict | None) -> bool:
    return bool(principal) and principal.get("role") in OPERATORS


def require_staff_writer(principal: dict) -> None:
    if principal.get("role") not in PLATFORM_STAFF:
        raise Forbidden("Only platform staff may do this / 仅平台工作人员可执行该操作", code="staff_only")


def of_institution(principal: dict | None, institution_id: str | None) -> bool:
    """The caller works for `institution_id` (its staff account or one of its windows)."""
    if not principal or not institution_id:
        return False
    return str(principal.get("institution_id") or "") == str(institution_id)


def get_or_404(session: Session, model, ident, what_en: str, what_zh: str, code: str):
    found = session.get(model, str(ident))
    if found is None:
        raise NotFound(f"No such {what_en} / 无此{what_zh}", code=code)
    return found


def add_step(session: Session, case_type: str, case_id: str, action: str, principal: dict | None,
             note: str | None = None, at: dt.datetime | None = None) -> Step:
    principal = principal or {}
    step = Step(case_type=case_type, case_id=case_id, action=action,
                actor_id=str(principal.get("user_id") or "system"), actor_role=str(principal.get("role") or "system"),
                at=at or now(), note=note)
    session.add(step)
    session.flush()
    return step


def steps_of(session: Session, case_type: str, case_id: str) -> list[Step]:
    return list(session.scalars(select(Step).where(Step.case_type == case_type, Step.case_id == case_id)
                                .order_by(Step.seq)))


def clocks_of(session: Session, subject_type: str, subject_id: str) -> list[dict]:
    rows = session.scalars(select(sla.SlaClock).where(sla.SlaClock.subject_type == subject_type,
                                                      sla.SlaClock.subject_id == str(subject_id))
                           .order_by(sla.SlaClock.started_at))
    return [sla.clock_view(c) for c in rows]
