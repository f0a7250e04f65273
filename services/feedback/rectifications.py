"""Every 不满意 / 非常不满意 closes the loop (好差评 整改).

opened → verified (SLA feedback.rectification_verify, 1 working day; the cause
analysis is recorded) → rectified or explained (feedback.rectification_rectify,
15 working days) → re-checked by a staff member other than the one who verified
and the one who acted → called back → closed. From opened or verified the
institution may appeal (the running clock pauses); an operator decides: an
overturned evaluation leaves the statistics but stays visible with its reason,
a refused appeal resumes where it was. A callback that finds the customer still
dissatisfied sends the case back to rectification. Every step is time-stamped
(case_step) and evented (rectification.advanced; opened and closed too).
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common import sla
from services.common.errors import Conflict, Forbidden, NotFound
from services.common.outbox import record_event
from services.common.platform import OPERATORS

from .common import SOURCE, add_step, clocks_of, is_platform_staff, is_staff, iso, now, of_institution, steps_of
from .models import Evaluation, Rectification

VERIFY_RULE = "feedback.rectification_verify"
RECTIFY_RULE = "feedback.rectification_rectify"
CASE = "rectification"

# action -> states it may start from
FROM = {"verify": ("opened",), "rectify": ("verified",), "explain": ("verified",), "appeal": ("opened", "verified"),
        "decide_appeal": ("appealed",), "recheck": ("rectified", "explained"), "call_back": ("rechecked",),
        "close": ("called_back",)}


def open_for(session: Session, evaluation: Evaluation) -> Rectification:
    existing = session.scalars(select(Rectification).where(Rectification.evaluation_id == evaluation.id)).first()
    if existing is not None:
        return existing
    at = now()
    case = Rectification(evaluation_id=evaluation.id, institution_id=evaluation.institution_id, state="opened",
                         opened_at=at)
    session.add(case)
    session.flush()
    add_step(session, CASE, case.id, "open", None, at=at)
    sla.start_clock(session, VERIFY_RULE, CASE, case.id, at=at)
    record_event(session, SOURCE, "rectification.opened", case.id, {
        "rectification_id": case.id, "evaluation_id": evaluation.id, "institution_id": evaluation.institution_id,
        "opened_at": iso(at)})
    return case


def _view(session: Session, case: Rectification) -> Rectification:
    case.steps = steps_of(session, CASE, case.id)
    case.clocks = clocks_of(session, CASE, case.id)
    return case


def _may_read(principal: dict, case: Rectification) -> bool:
    return is_staff(principal) or of_institution(principal, case.institution_id)


def get_rectification(session: Session, principal: dict, rectification_id: str) -> Rectification:
    case = session.get(Rectification, str(rectification_id))
    if case is None or not _may_read(principal, case):
        raise NotFound("No such rectification / 无此整改", code="rectification_not_found")
    return _view(session, case)


def list_rectifications(session: Session, principal: dict, query: dict) -> list[Rectification]:
    stmt = select(Rectification)
    if not is_staff(principal):
        if not principal.get("institution_id"):
            return []
        stmt = stmt.where(Rectification.institution_id == str(principal["institution_id"]))
    if query.get("state"):
        stmt = stmt.where(Rectification.state == query["state"])
    if query.get("institution_id"):
        stmt = stmt.where(Rectification.institution_id == query["institution_id"])
    rows = list(session.scalars(stmt.order_by(Rectification.opened_at.desc()).limit(query["limit"])))
    return [_view(session, r) for r in rows]


def _running(session, case_id):
    for rule in (VERIFY_RULE, RECTIFY_RULE):
        clock = sla.find_clock(session, rule, CASE, case_id)
        if clock is not None:
            return clock
    return None


def _require(ok: bool, en: str, zh: str, code: str = "not_allowed") -> None:
    if not ok:
        raise Forbidden(f"{en} / {zh}", code=code)


def advance(session: Session, principal: dict, rectification_id: str, data: dict) -> Rectification:
    case = session.get(Rectification, str(rectification_id), with_for_update=True)
    if case is None or not _may_read(principal, case):
        raise NotFound("No such rectification / 无此整改", code="rectification_not_found")
    action = data["action"]
    if case.state not in FROM[action]:
        raise Conflict(f"Cannot {action} a rectification that is {case.state} / 当前环节不能执行该操作",
                       code="rectification_wrong_state")
    role = principal.get("role")
    user = str(principal["user_id"])
    staff = is_platform_staff(principal)
    own = of_institution(principal, case.institution_id)
    at = now()
    note = None
    evaluation = session.get(Evaluation, case.evaluation_id)
    if action == "verify":
        _require(staff, "Platform staff verify", "由平台工作人员核实")
        case.state, case.verified_at, case.verified_by = "verified", at, user
        case.cause_analysis = note = data["cause_analysis"]
        sla.stop_clock(session, (VERIFY_RULE, CASE, case.id), at=at, missing_ok=True)
        sla.start_clock(session, RECTIFY_RULE, CASE, case.id, at=at, institution_id=case.institution_id)
    elif action in ("rectify", "explain"):
        _require(staff or own, "The institution or platform staff act", "由被评价机构或平台工作人员整改")
        case.state = "rectified" if action == "rectify" else "explained"
        case.acted_at, case.acted_by = at, user
        case.measures = note = data["measures"]
        sla.stop_clock(session, (RECTIFY_RULE, CASE, case.id), at=at, missing_ok=True)
    elif action == "appeal":
        _require(own, "Only the evaluated institution appeals", "仅被评价机构可申诉")
        case.appealed_from, case.state = case.state, "appealed"
        case.appeal_reason = note = data["reason"]
        case.appealed_at = at
        clock = _running(session, case.id)
        if clock is not None:
            sla.pause_clock(session, clock, at=at)
    elif action == "decide_appeal":
        _require(role in OPERATORS, "An operator decides the appeal", "由平台运营人员裁定申诉")
        case.appeal_decided_by = user
        note = data["reason"]
        clock = _running(session, case.id)
        if data["overturn"]:
            case.appeal_decision = "overturned"
            case.state = "overturned"
            case.closed_at = at
            evaluation.overturned = True
            evaluation.overturn_reason = data["reason"]
            if clock is not None:
                sla.cancel_clock(session, clock, at=at)
        else:
            case.appeal_decision = "rejected"
            case.state = case.appealed_from or "opened"
            if clock is not None:
                sla.resume_clock(session, clock, at=at)
    elif action == "recheck":
        _require(staff, "Platform staff re-check", "由平台工作人员复核")
        if user in {case.verified_by, case.acted_by}:
            raise Forbidden("The re-check is by a different staff member / 复核须由其他工作人员进行",
                            code="recheck_by_same_staff")
        case.state, case.rechecked_at, case.rechecked_by = "rechecked", at, user
        case.recheck_note = note = data["note"]
    elif action == "call_back":
        _require(staff, "Platform staff call back", "由平台工作人员回访")
        case.called_back_at, case.callback_result = at, data["result"]
        note = data.get("note") or data["result"]
        if data["result"] == "dissatisfied":   # the loop is not closed: rectify again
            case.state = "verified"
            sla.start_clock(session, RECTIFY_RULE, CASE, case.id, at=at, institution_id=case.institution_id)
        else:
            case.state = "called_back"
    elif action == "close":
        _require(staff, "Platform staff close", "由平台工作人员办结")
        case.state, case.closed_at = "closed", at
    add_step(session, CASE, case.id, action, principal, note=note, at=at)
    record_event(session, SOURCE, "rectification.advanced", case.id, {
        "rectification_id": case.id, "action": action, "state": case.state, "at": iso(at)})
    if case.state in ("closed", "overturned"):
        record_event(session, SOURCE, "rectification.closed", case.id, {
            "rectification_id": case.id, "evaluation_id": case.evaluation_id, "institution_id": case.institution_id,
            "overturned": case.state == "overturned", "closed_at": iso(at)})
    return _view(session, case)
