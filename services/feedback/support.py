"""Technical support requests (4.1.4 c): users file them (category, description, the page or
operation, the request id of an error response); operators answer within the SLA rule
feedback.support_response; the user sees the status."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common import sla
from services.common.errors import Conflict, NotFound
from services.common.outbox import record_event

from .common import SOURCE, clocks_of, is_staff, iso, now
from .models import SupportRequest

RULE = "feedback.support_response"
CASE = "support"


def _view(session: Session, request: SupportRequest) -> SupportRequest:
    request.clocks = clocks_of(session, CASE, request.id)
    return request


def open_request(session: Session, principal: dict, data: dict) -> SupportRequest:
    at = now()
    request = SupportRequest(user_id=str(principal["user_id"]), category=data["category"],
                             description=data["description"], page=data.get("page"),
                             request_id=data.get("request_id"), state="open", created_at=at)
    session.add(request)
    session.flush()
    sla.start_clock(session, RULE, CASE, request.id, at=at)
    record_event(session, SOURCE, "support.opened", request.id, {"support_id": request.id,
                                                                "category": request.category, "at": iso(at)})
    return _view(session, request)


def _load(session: Session, principal: dict, support_id: str, lock: bool = False) -> SupportRequest:
    request = session.get(SupportRequest, str(support_id), with_for_update=lock)
    if request is None or not (is_staff(principal) or request.user_id == str(principal["user_id"])):
        raise NotFound("No such support request / 无此技术支持请求", code="support_not_found")
    return request


def get_request(session: Session, principal: dict, support_id: str) -> SupportRequest:
    return _view(session, _load(session, principal, support_id))


def list_requests(session: Session, principal: dict, state=None, limit=50) -> list[SupportRequest]:
    stmt = select(SupportRequest)
    if not is_staff(principal):
        stmt = stmt.where(SupportRequest.user_id == str(principal["user_id"]))
    if state:
        stmt = stmt.where(SupportRequest.state == state)
    return [_view(session, r) for r in session.scalars(stmt.order_by(SupportRequest.created_at.desc()).limit(limit))]


def answer(session: Session, principal: dict, support_id: str, data: dict) -> SupportRequest:
    request = _load(session, principal, support_id, lock=True)
    if request.state == "resolved":
        raise Conflict("This request is resolved / 该请求已解决", code="support_resolved")
    at = now()
    request.answer, request.answered_by = data["answer"], str(principal["user_id"])
    sla.stop_clock(session, (RULE, CASE, request.id), at=at, missing_ok=True)
    request.state = "resolved" if data["resolve"] else "answered"
    if data["resolve"]:
        request.resolved_at = at
        record_event(session, SOURCE, "support.resolved", request.id, {"support_id": request.id,
                                                                      "category": request.category, "at": iso(at)})
    return _view(session, request)
