"""Callbacks (6.4.2).

The plan: every dissatisfied evaluation, every closed complaint, and a random
share of the other evaluations (`callbacks.random_share` in data/feedback.json)
become callback tasks, each with the question script of its reason (data). Staff
record each call: reached (done), no answer (a try; after `max_tries`, 3 by
default, the task ends unreachable), or reopen (the customer is not satisfied:
the complaint goes back to investigation, the rectification back to rectifying).
Every call is a step; the finished task publishes `callback.done`. The archive
(GET /callbacks) is searchable by state, reason, outcome, subject, institution
and words of the notes.
"""
from __future__ import annotations

import random

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from services.common import sla
from services.common.errors import Conflict, NotFound
from services.common.outbox import record_event

from .common import SOURCE, add_step, iso, now, steps_of
from .contract.vocabulary import DISSATISFIED, callback_script, max_callback_tries, settings
from .models import Callback, Complaint, Evaluation, InstitutionName, Rectification

CASE = "callback"


def _share() -> float:
    return float(settings()["callbacks"].get("random_share", 0))


def _task(session: Session, subject_type: str, subject_id: str, reason: str, enterprise_id, institution_id):
    task = Callback(subject_type=subject_type, subject_id=subject_id, reason=reason, enterprise_id=enterprise_id,
                    institution_id=institution_id, state="open", tries=0, created_at=now())
    session.add(task)
    session.flush()
    return task


def plan_for_evaluation(session: Session, evaluation: Evaluation, rng=random.random) -> Callback | None:
    if evaluation.overall in DISSATISFIED:
        reason = "dissatisfied"
    elif rng() < _share():
        reason = "sample"
    else:
        return None
    return _task(session, "evaluation", evaluation.id, reason, evaluation.enterprise_id, evaluation.institution_id)


def plan_for_complaint(session: Session, complaint: Complaint) -> Callback:
    return _task(session, "complaint", complaint.id, "complaint", complaint.complainant_id, complaint.institution_id)


def _view(session: Session, task: Callback) -> Callback:
    task.script = callback_script(task.reason)
    task.steps = steps_of(session, CASE, task.id)
    return task


def _name_subjects(session: Session, tasks: list[Callback]) -> list[Callback]:
    """What staff read instead of ids: the complaint's acceptance number, the evaluated service's
    type, the institution's name. From feedback's own tables and its copy of the registry's names,
    one query each for the whole page (never a call to another service per row)."""
    def ids(kind):
        return [t.subject_id for t in tasks if t.subject_type == kind] or [""]
    numbers = dict(session.execute(select(Complaint.id, Complaint.number)
                                   .where(Complaint.id.in_(ids("complaint")))).all())
    services = dict(session.execute(select(Evaluation.id, Evaluation.service_type)
                                    .where(Evaluation.id.in_(ids("evaluation")))).all())
    names = dict(session.execute(select(InstitutionName.id, InstitutionName.name).where(
        InstitutionName.id.in_([t.institution_id for t in tasks if t.institution_id] or [""]))).all())
    for task in tasks:
        task.subject_number = numbers.get(task.subject_id)
        task.subject_service_type = services.get(task.subject_id)
        task.institution_name = names.get(task.institution_id)
    return tasks


def get_callback(session: Session, callback_id: str) -> Callback:
    task = session.get(Callback, str(callback_id))
    if task is None:
        raise NotFound("No such callback / 无此回访", code="callback_not_found")
    return _name_subjects(session, [_view(session, task)])[0]


def list_callbacks(session: Session, query: dict) -> dict:
    stmt = select(Callback)
    for name in ("state", "reason", "outcome", "subject_id", "institution_id"):
        if query.get(name):
            stmt = stmt.where(getattr(Callback, name) == query[name])
    if query.get("q"):
        words = [w for w in query["q"].split() if w]
        for word in words:
            stmt = stmt.where(or_(Callback.notes.contains(word), Callback.subject_id == word))
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(stmt.order_by(Callback.created_at.desc(), Callback.id).limit(query["limit"])
                           .offset(query["offset"]))
    return {"items": _name_subjects(session, [_view(session, t) for t in rows]), "total": total}


def _reopen(session: Session, principal: dict, task: Callback, at) -> None:
    if task.subject_type == "complaint":
        complaint = session.get(Complaint, task.subject_id)
        if complaint is not None and complaint.state == "closed":
            complaint.state, complaint.closed_at = "investigated", None
            sla.start_clock(session, "feedback.complaint_close", "complaint", complaint.id, at=at)
            add_step(session, "complaint", complaint.id, "reopened", principal, note="callback", at=at)
    else:
        case = session.scalars(select(Rectification).where(Rectification.evaluation_id == task.subject_id)).first()
        if case is not None and case.state in ("called_back", "closed", "rechecked", "rectified", "explained"):
            case.state, case.closed_at = "verified", None
            sla.start_clock(session, "feedback.rectification_rectify", "rectification", case.id, at=at,
                            institution_id=case.institution_id)
            add_step(session, "rectification", case.id, "reopened", principal, note="callback", at=at)


def attempt(session: Session, principal: dict, callback_id: str, data: dict) -> Callback:
    task = session.get(Callback, str(callback_id), with_for_update=True)
    if task is None:
        raise NotFound("No such callback / 无此回访", code="callback_not_found")
    if task.state == "done":
        raise Conflict("This callback is done / 回访已完成", code="callback_done")
    at = now()
    result = data["result"]
    task.tries += 1
    if data.get("notes"):
        task.notes = ((task.notes + "\n") if task.notes else "") + data["notes"]
    if result == "reached":
        task.outcome = "reached"
    elif result == "reopen":
        task.outcome = "reopened"
        _reopen(session, principal, task, at)
    elif task.tries >= max_callback_tries():
        task.outcome = "unreachable"
    add_step(session, CASE, task.id, result, principal, note=data.get("notes"), at=at)
    if task.outcome:
        task.state, task.done_at, task.done_by = "done", at, str(principal["user_id"])
        record_event(session, SOURCE, "callback.done", task.id, {
            "callback_id": task.id, "subject_type": task.subject_type, "subject_id": task.subject_id,
            "outcome": task.outcome, "done_at": iso(at)})
    return _name_subjects(session, [_view(session, task)])[0]
