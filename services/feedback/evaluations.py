"""One evaluation per finished service (6.4.1, 7.1.1-7.1.2).

An invitation opens from a "finished service" event (its `evaluation` block,
services.common.evaluation.FinishedService), keyed on (service_type, service_id):
a redelivered or replayed event opens nothing twice. The customer rates once on
the national five-level scale, overall and on process, efficiency and attitude;
不满意 or worse needs reason tags and text and opens a rectification case. One
comment may be appended later; nothing is edited. Neither the handler nor anyone
of the evaluated institution (or the window that served it) may rate. Staff may
enter a phone or SMS answer (channel, staff member, call reference), marked as
such. An invitation unanswered within the SLA rule `feedback.evaluation_window`
(10 working days by default) closes as "not evaluated", never as a rating.
Self-evaluations (institution or window) and third-party ones (regulators, or an
operator's imported batch) are kept beside it; the combined score weighs them
with the weights in data/feedback.json.
"""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common import sla
from services.common.audit import audit
from services.common.errors import Conflict, Forbidden, NotFound
from services.common.outbox import record_event
from services.common.platform import STAFF_READERS

from .common import SOURCE, get_or_404, is_platform_staff, is_staff, iso, now, of_institution
from .contract.vocabulary import DISSATISFIED, SCORE, STAFF_CHANNELS, settings, weights
from .models import Assessment, Evaluation, Rectification

EXPIRY_RULE = "feedback.evaluation_window"


def _parse_instant(value: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment


def expiry_rule() -> str:
    return settings()["evaluation"].get("expiry_rule", EXPIRY_RULE)


# -- invitations -----------------------------------------------------------------------------
def open_invitation(session: Session, block: dict, event_id: str | None = None) -> Evaluation | None:
    """Open the invitation for one finished service; None if it exists already."""
    from services.common.evaluation import FinishedService
    problems = FinishedService().validate(block or {})
    if problems:
        raise ValueError(f"evaluation block invalid: {problems}")
    existing = session.scalars(select(Evaluation).where(Evaluation.service_type == block["service_type"],
                                                        Evaluation.service_id == str(block["service_id"]))).first()
    if existing is not None:
        return None
    finished = _parse_instant(block["finished_at"])
    evaluation = Evaluation(service_type=block["service_type"], service_id=str(block["service_id"]),
                            enterprise_id=str(block["enterprise_id"]), institution_id=block.get("institution_id"),
                            window_id=block.get("window_id"), handler_id=block.get("handler_id"),
                            finished_at=finished, state="invited", invited_at=now(), source_event_id=event_id,
                            reason_tags="[]", overturned=False)
    session.add(evaluation)
    session.flush()
    sla.start_clock(session, expiry_rule(), "evaluation", evaluation.id, at=min(finished, now()))
    record_event(session, SOURCE, "evaluation.invited", evaluation.id, {
        "evaluation_id": evaluation.id, "service_type": evaluation.service_type,
        "service_id": evaluation.service_id, "institution_id": evaluation.institution_id,
        "window_id": evaluation.window_id, "invited_at": iso(evaluation.invited_at)})
    return evaluation


def expire_due(session: Session, at: dt.datetime | None = None) -> list[Evaluation]:
    """Close as "not evaluated" every invitation whose answer window has passed."""
    at = at or now()
    clocks = sla.list_clocks(session, state=sla.RUNNING, rule=expiry_rule(), due_before=at)
    expired = []
    for clock in clocks:
        evaluation = session.get(Evaluation, clock.subject_id)
        sla.cancel_clock(session, clock, at=at)   # the customer's window, not a platform limit
        if evaluation is None or evaluation.state != "invited":
            continue
        evaluation.state = "expired"
        evaluation.expired_at = at
        record_event(session, SOURCE, "evaluation.expired", evaluation.id, {
            "evaluation_id": evaluation.id, "service_type": evaluation.service_type,
            "service_id": evaluation.service_id, "institution_id": evaluation.institution_id,
            "expired_at": iso(at)})
        expired.append(evaluation)
    return expired


# -- reading -------------------------------------------------------------------------------------
def _may_read(principal: dict, evaluation: Evaluation) -> bool:
    return (is_staff(principal) or str(principal.get("user_id")) == evaluation.enterprise_id
            or of_institution(principal, evaluation.institution_id))


def combined_score(evaluation: Evaluation, assessments: list[Assessment]) -> float | None:
    parts = {}
    if evaluation.state == "submitted" and evaluation.overall and not evaluation.overturned:
        parts["user"] = SCORE[evaluation.overall]
    for a in assessments:
        parts[a.method] = SCORE[a.rating]
    w = weights()
    total = sum(w.get(k, 0) for k in parts)
    if not parts or total <= 0:
        return None
    return round(sum(w.get(k, 0) * v for k, v in parts.items()) / total, 3)


def decorate(session: Session, evaluations: list[Evaluation]) -> list[Evaluation]:
    """Attach what the response shows besides the row: due time, assessments, combined score, case."""
    ids = [e.id for e in evaluations]
    if not ids:
        return evaluations
    by_eval: dict[str, list[Assessment]] = {}
    for a in session.scalars(select(Assessment).where(Assessment.evaluation_id.in_(ids)).order_by(
            Assessment.created_at)):
        by_eval.setdefault(a.evaluation_id, []).append(a)
    cases = dict(session.execute(select(Rectification.evaluation_id, Rectification.id)
                                 .where(Rectification.evaluation_id.in_(ids))).all())
    clocks = {c.subject_id: c for c in session.scalars(select(sla.SlaClock).where(
        sla.SlaClock.subject_type == "evaluation", sla.SlaClock.subject_id.in_(ids)))}
    for e in evaluations:
        e.assessments = by_eval.get(e.id, [])
        e.combined_score = combined_score(e, e.assessments)
        e.rectification_id = cases.get(e.id)
        clock = clocks.get(e.id)
        e.due_at = clock.due_at if clock is not None else None
        e.entered_by_staff = e.channel in STAFF_CHANNELS
    return evaluations


def get_evaluation(session: Session, principal: dict, evaluation_id: str) -> Evaluation:
    evaluation = get_or_404(session, Evaluation, evaluation_id, "evaluation", "评价", "evaluation_not_found")
    if not _may_read(principal, evaluation):
        raise NotFound("No such evaluation / 无此评价", code="evaluation_not_found")
    return decorate(session, [evaluation])[0]


def list_evaluations(session: Session, principal: dict, query: dict) -> dict:
    stmt = select(Evaluation)
    if not is_staff(principal):
        if principal.get("institution_id"):   # the institution's own accounts and windows
            stmt = stmt.where(Evaluation.institution_id == str(principal["institution_id"]))
        else:
            stmt = stmt.where(Evaluation.enterprise_id == str(principal["user_id"]))
    for name in ("state", "service_type", "institution_id"):
        if query.get(name):
            stmt = stmt.where(getattr(Evaluation, name) == query[name])
    if query.get("rating"):
        stmt = stmt.where(Evaluation.overall == query["rating"])
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = list(session.scalars(stmt.order_by(Evaluation.invited_at.desc(), Evaluation.id)
                                .limit(query["limit"]).offset(query["offset"])))
    return {"items": decorate(session, rows), "total": total}


# -- rating ------------------------------------------------------------------------------------
def _refuse_interested(principal: dict, evaluation: Evaluation) -> None:
    user = str(principal.get("user_id"))
    if evaluation.handler_id and user == str(evaluation.handler_id):
        raise Forbidden("The handler cannot evaluate their own service / 经办人不能评价自己办理的服务",
                        code="evaluator_interested")
    if of_institution(principal, evaluation.institution_id):
        raise Forbidden("Staff of the evaluated institution cannot evaluate it / 被评价机构人员不能参与评价",
                        code="evaluator_interested")
    if (principal.get("role") == "window" and evaluation.window_id
            and str(principal.get("window_id") or "") == str(evaluation.window_id)):
        raise Forbidden("The window that served cannot evaluate itself / 办理窗口不能评价自身", code="evaluator_interested")


def _load_open(session: Session, evaluation_id: str, principal: dict) -> Evaluation:
    evaluation = session.get(Evaluation, str(evaluation_id), with_for_update=True)
    if evaluation is None or not _may_read(principal, evaluation):
        raise NotFound("No such evaluation / 无此评价", code="evaluation_not_found")
    return evaluation


def submit(session: Session, principal: dict, evaluation_id: str, data: dict) -> Evaluation:
    evaluation = _load_open(session, evaluation_id, principal)
    _refuse_interested(principal, evaluation)
    is_customer = str(principal.get("user_id")) == evaluation.enterprise_id
    staff_entry = data["channel"] in STAFF_CHANNELS
    if is_customer:
        if staff_entry:
            raise Forbidden("Phone and SMS answers are entered by staff / 电话、短信评价由工作人员录入",
                            code="staff_channel")
    elif is_platform_staff(principal):
        if not staff_entry:
            raise Forbidden("Staff enter phone or SMS answers only / 工作人员仅可录入电话或短信评价",
                            code="customer_channel")
    else:
        raise Forbidden("Only the served customer evaluates this service / 仅服务对象可评价", code="not_the_customer")
    if evaluation.state != "invited":
        raise Conflict("This evaluation is closed: it is submitted once and never edited / 评价只能提交一次，不可修改",
                       code="evaluation_closed")
    at = now()
    evaluation.state = "submitted"
    evaluation.submitted_at = at
    evaluation.submitted_by = evaluation.enterprise_id
    evaluation.channel = data["channel"]
    evaluation.entered_by = None if is_customer else str(principal["user_id"])
    evaluation.call_reference = data.get("call_reference") if staff_entry else None
    for name in ("overall", "process", "efficiency", "attitude"):
        setattr(evaluation, name, data[name])
    evaluation.reason_tags = json.dumps(sorted(set(data.get("reason_tags") or [])))
    evaluation.text = data.get("text")
    clock = sla.find_clock(session, expiry_rule(), "evaluation", evaluation.id)
    if clock is not None:
        sla.stop_clock(session, clock, at=at)
    record_event(session, SOURCE, "evaluation.submitted", evaluation.id, {
        "evaluation_id": evaluation.id, "service_type": evaluation.service_type,
        "service_id": evaluation.service_id, "institution_id": evaluation.institution_id,
        "window_id": evaluation.window_id, "overall": evaluation.overall,
        "dimensions": {"process": evaluation.process, "efficiency": evaluation.efficiency,
                       "attitude": evaluation.attitude},
        "channel": evaluation.channel, "submitted_at": iso(at)})
    if not is_customer:
        audit(session, principal, "evaluation.entered_by_staff", "evaluation", evaluation.id,
              owner_id=evaluation.enterprise_id, detail={"channel": evaluation.channel,
                                                         "call_reference": evaluation.call_reference})
    from . import callbacks, rectifications, statistics
    if evaluation.overall in DISSATISFIED:
        rectifications.open_for(session, evaluation)
    callbacks.plan_for_evaluation(session, evaluation)
    if evaluation.institution_id:
        statistics.announce_rating(session, evaluation.institution_id, evaluation.finished_at, at)
    return decorate(session, [evaluation])[0]


def add_comment(session: Session, principal: dict, evaluation_id: str, data: dict) -> Evaluation:
    evaluation = _load_open(session, evaluation_id, principal)
    if str(principal.get("user_id")) != evaluation.enterprise_id:
        raise Forbidden("Only the customer appends a comment / 仅评价人可追加评论", code="not_the_customer")
    if evaluation.state != "submitted":
        raise Conflict("Submit the evaluation first / 请先提交评价", code="evaluation_not_submitted")
    if evaluation.comment is not None:
        raise Conflict("One comment may be appended, and it was / 仅可追加一次评论，已追加", code="comment_exists")
    evaluation.comment = data["comment"]
    evaluation.comment_at = now()
    return decorate(session, [evaluation])[0]


def add_assessment(session: Session, principal: dict, evaluation_id: str, data: dict) -> Evaluation:
    evaluation = _load_open(session, evaluation_id, principal)
    method = data["method"]
    if method == "self":
        mine = of_institution(principal, evaluation.institution_id) or (
            principal.get("role") == "window" and evaluation.window_id
            and str(principal.get("window_id") or "") == evaluation.window_id)
        if not mine:
            raise Forbidden("Self-evaluation is by the institution or window that served / 自评由办理机构或窗口进行",
                            code="not_self")
    elif principal.get("role") not in STAFF_READERS:
        raise Forbidden("Third-party evaluation is by regulators or an imported batch / 第三方评价由监管部门或批量导入",
                        code="not_third_party")
    _add_assessment(session, evaluation, method, data["rating"], str(principal["user_id"]), data.get("note"))
    return decorate(session, [evaluation])[0]


def _add_assessment(session, evaluation, method, rating, assessor, note, batch=None) -> Assessment:
    exists = session.scalars(select(Assessment).where(Assessment.evaluation_id == evaluation.id,
                                                      Assessment.method == method)).first()
    if exists is not None:
        raise Conflict(f"A {method} assessment exists already / 已有该类评价", code="assessment_exists")
    row = Assessment(evaluation_id=evaluation.id, method=method, rating=rating, assessor_id=assessor, note=note,
                     batch=batch, created_at=now())
    session.add(row)
    session.flush()
    return row


def import_third_party(session: Session, principal: dict, data: dict) -> dict:
    """An imported third-party batch: every row or none (the first bad row refuses the batch)."""
    errors = {}
    rows = []
    for i, item in enumerate(data["items"]):
        evaluation = session.get(Evaluation, item["evaluation_id"])
        if evaluation is None:
            errors[str(i)] = ["无此评价 / no such evaluation"]
        else:
            rows.append((evaluation, item))
    if errors:
        raise NotFound("Some rows name no evaluation / 部分行的评价不存在", code="evaluation_not_found",
                       errors={"items": errors})
    for evaluation, item in rows:
        _add_assessment(session, evaluation, "third_party", item["rating"], str(principal["user_id"]),
                        item.get("note"), batch=data["batch"])
    audit(session, principal, "evaluation.third_party_imported", "assessment_batch", data["batch"],
          detail={"rows": len(rows)})
    return {"batch": data["batch"], "imported": len(rows)}
