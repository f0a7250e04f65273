"""Complaints (6.5.2-6.5.3).

Filed online (channel web) by the complainant, or entered by staff for phone,
window and letter complaints. Each gets an acceptance number TS-YYYYMMDD-NNNN,
sequential per day (Asia/Shanghai), taken from a per-day counter row under the
database's row lock, so concurrent filings never share or skip a number.

Flow: received → accepted (SLA feedback.complaint_accept, 1 working day; the
complaint's own limit feedback.complaint_close starts) → investigated →
forwarded to the institution (its reply limit is the supervision rule's, by
default feedback.complaint_reply) → answered; the institution may instead return
it once, with a reason, and the platform decides (take it back: investigated;
refuse: forwarded again) → outcome decided → told to the complainant (channel)
→ the complainant's satisfaction → closed, which publishes `complaint.closed`
with the evaluation block (feedback then invites an evaluation of the complaint
handling itself) and plans a callback. Waiting for the complainant pauses every
running clock of the complaint; the pauses are stored as intervals (complaint_pause)
and audited. Duplicates are merged into another complaint.

The complainant's identity (account, name, phone) is for platform staff only:
stored encrypted, shown masked (operators may reveal, audited), never shown to
the institution and never put in an event (后台实名).
"""
from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from services.common import pii, sla
from services.common.audit import audit
from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.common.outbox import record_event
from services.common.platform import CUSTOMER_ROLES, OPERATORS
from services.common.workdays import local_date

from . import escalations, references, rules
from .common import SOURCE, add_step, clocks_of, is_platform_staff, is_staff, iso, now, of_institution, steps_of
from .contract.vocabulary import settings
from .models import Complaint, ComplaintCounter, ComplaintPause

CASE = "complaint"
ACCEPT_RULE = "feedback.complaint_accept"
CLOSE_RULE = "feedback.complaint_close"
REPLY_RULE = "feedback.complaint_reply"

FROM = {"accept": ("received",), "investigate": ("accepted",), "forward": ("investigated",),
        "answer": ("forwarded",), "return": ("forwarded",), "decide_return": ("returned",),
        "decide": ("answered", "investigated"), "tell": ("decided",), "satisfaction": ("told",)}
ENDED = ("closed", "merged")


def types() -> list[dict]:
    return settings()["complaint_types"]


# -- acceptance numbers --------------------------------------------------------------------------
def _insert_ignore(session: Session, day: str) -> None:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(ComplaintCounter).values(day=day, last=0).on_conflict_do_nothing())


def next_number(session: Session, at=None) -> str:
    """TS-YYYYMMDD-NNNN: the day's counter is raised under its row lock (UPDATE ... RETURNING)."""
    day = local_date(at or now()).strftime("%Y%m%d")
    _insert_ignore(session, day)
    last = session.execute(update(ComplaintCounter).where(ComplaintCounter.day == day)
                           .values(last=ComplaintCounter.last + 1).returning(ComplaintCounter.last)).scalar_one()
    return f"TS-{day}-{last:04d}"


# -- views -------------------------------------------------------------------------------------------
class Shown:
    """A complaint as one reader may see it (the row itself is never changed for a view)."""

    def __init__(self, complaint: Complaint, **overrides):
        self._complaint = complaint
        self.__dict__.update(overrides)

    def __getattr__(self, name):
        return getattr(self._complaint, name)


def _view(session: Session, principal: dict, complaint: Complaint, reveal: bool = False) -> Shown:
    extra = {"steps": steps_of(session, CASE, complaint.id), "clocks": clocks_of(session, CASE, complaint.id),
             "pauses": list(session.scalars(select(ComplaintPause).where(ComplaintPause.complaint_id == complaint.id)
                                            .order_by(ComplaintPause.started_at)))}
    rule = rules.rule_for(session, complaint.type)
    extra["handler_role"] = rule.handler_role if rule else None
    extra["escalated_to"] = next((s.note for s in extra["steps"] if s.action == "escalate"), None)
    if is_staff(principal):
        if reveal and principal.get("role") in OPERATORS:
            audit(session, principal, "complaint.pii_revealed", "complaint", complaint.id,
                  owner_id=complaint.complainant_id)
        else:
            extra["complainant_name"] = pii.mask_name(complaint.complainant_name)
            extra["complainant_phone"] = pii.mask_phone(complaint.complainant_phone)
    elif complaint.complainant_id and str(principal.get("user_id")) == complaint.complainant_id:
        extra["complainant_phone"] = pii.mask_phone(complaint.complainant_phone)
    else:   # the institution: never the complainant's identity, not even as the actor of a step
        # (a web complaint is filed, and its satisfaction given, by the complainant's own account)
        extra.update(complainant_id=None, complainant_name=None, complainant_phone=None,
                     steps=[Shown(s, actor_id="complainant") if complaint.complainant_id
                            and s.actor_id == complaint.complainant_id else s
                            for s in extra["steps"] if s.action not in ("pause", "resume")])
    return Shown(complaint, **extra)


def _visible(principal: dict, complaint: Complaint) -> bool:
    if is_staff(principal):
        return True
    if complaint.complainant_id and str(principal.get("user_id")) == complaint.complainant_id:
        return True
    return of_institution(principal, complaint.institution_id) and complaint.forwarded_at is not None


def _load(session: Session, principal: dict, complaint_id: str, lock: bool = False) -> Complaint:
    complaint = session.get(Complaint, str(complaint_id), with_for_update=lock)
    if complaint is None or not _visible(principal, complaint):
        raise NotFound("No such complaint / 无此投诉", code="complaint_not_found")
    return complaint


def get_complaint(session: Session, principal: dict, complaint_id: str, reveal: bool = False) -> Shown:
    return _view(session, principal, _load(session, principal, complaint_id), reveal)


def list_complaints(session: Session, principal: dict, query: dict) -> dict:
    stmt = select(Complaint)
    if not is_staff(principal):
        if principal.get("institution_id"):   # the institution's own accounts and windows
            stmt = stmt.where(Complaint.institution_id == str(principal["institution_id"]),
                              Complaint.forwarded_at.is_not(None))
        else:
            stmt = stmt.where(Complaint.complainant_id == str(principal["user_id"]))
    for name in ("state", "type", "institution_id", "number"):
        if query.get(name):
            stmt = stmt.where(getattr(Complaint, name) == query[name])
    if query.get("mine") and is_staff(principal):
        from .models import SupervisionRule
        stmt = stmt.where(Complaint.type.in_(select(SupervisionRule.complaint_type).where(
            SupervisionRule.handler_role == principal.get("role"))))
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(stmt.order_by(Complaint.created_at.desc(), Complaint.number.desc())
                           .limit(query["limit"]).offset(query["offset"]))
    return {"items": [_view(session, principal, c) for c in rows], "total": total}


# -- filing ------------------------------------------------------------------------------------------
def file(session: Session, principal: dict, data: dict) -> Shown:
    role = principal.get("role")
    staff_entry = data["channel"] != "web"
    if staff_entry and not is_platform_staff(principal):
        raise Forbidden("Phone, window and letter complaints are entered by platform staff / "
                        "电话、窗口、信件投诉由平台工作人员录入", code="staff_only")
    if not staff_entry and role not in CUSTOMER_ROLES:
        raise Forbidden("Online complaints are filed by enterprises and persons / 网上投诉由企业或个人提交",
                        code="customers_only")
    if not staff_entry and data.get("complainant_id"):
        raise ValidationFailed("The complainant is the caller / 投诉人即当前用户",
                               errors={"complainant_id": ["不得填写 / must not be given"]})
    if of_institution(principal, data["institution_id"]):
        raise Forbidden("An institution cannot complain about itself / 机构不能投诉自身", code="own_institution")
    # The institution and the linked service must exist (local copies from their events: references).
    references.check(session, data, data.get("complainant_id") if staff_entry else str(principal["user_id"]))
    at = now()
    complaint = Complaint(number=next_number(session, at), channel=data["channel"],
                          complainant_id=data.get("complainant_id") if staff_entry else str(principal["user_id"]),
                          complainant_name=data.get("complainant_name"),
                          complainant_phone=data.get("complainant_phone"), institution_id=data["institution_id"],
                          type=data["type"], content=data["content"], requests=data.get("requests"),
                          link_type=data.get("link_type"), link_id=data.get("link_id"), state="received",
                          waiting=False, created_by=str(principal["user_id"]), created_at=at)
    session.add(complaint)
    session.flush()
    add_step(session, CASE, complaint.id, "file", principal, note=data["channel"], at=at)
    sla.start_clock(session, ACCEPT_RULE, CASE, complaint.id, at=at)
    return _view(session, principal, complaint)


# -- the flow ----------------------------------------------------------------------------------------
def _event(session, event_type: str, complaint: Complaint, at, **extra) -> None:
    record_event(session, SOURCE, event_type, complaint.id, {
        "complaint_id": complaint.id, "number": complaint.number, "institution_id": complaint.institution_id,
        "type": complaint.type, "at": iso(at), **extra})


def _open_clocks(session: Session, complaint_id: str) -> list:
    return list(session.scalars(select(sla.SlaClock).where(sla.SlaClock.subject_type == CASE,
                                                           sla.SlaClock.subject_id == complaint_id,
                                                           sla.SlaClock.state.in_(sla.OPEN_STATES))))


def _reply_rule(session: Session, complaint: Complaint) -> str:
    rule = rules.rule_for(session, complaint.type)
    return rule.reply_rule if rule else REPLY_RULE


def _start_reply_clock(session: Session, complaint: Complaint, at) -> None:
    # The type's reply limit as operators set it now; the clock keeps it if they change it later.
    rule = rules.rule_for(session, complaint.type)
    sla.start_clock(session, _reply_rule(session, complaint), CASE, complaint.id, at=at,
                    institution_id=complaint.institution_id,
                    limit_working_days=rule.reply_working_days if rule else None)


def _forbid(ok: bool, en: str, zh: str) -> None:
    if not ok:
        raise Forbidden(f"{en} / {zh}", code="not_allowed")


def act(session: Session, principal: dict, complaint_id: str, data: dict) -> Shown:
    complaint = _load(session, principal, complaint_id, lock=True)
    action = data["action"]
    staff = is_platform_staff(principal)
    own = of_institution(principal, complaint.institution_id)
    mine = bool(complaint.complainant_id) and str(principal.get("user_id")) == complaint.complainant_id
    if complaint.state in ENDED:
        raise Conflict("The complaint is closed / 投诉已办结", code="complaint_closed")
    if action in FROM and complaint.state not in FROM[action]:
        raise Conflict(f"Cannot {action} a complaint that is {complaint.state} / 当前环节不能执行该操作",
                       code="complaint_wrong_state")
    if complaint.waiting and action not in ("resume", "merge"):
        raise Conflict("Waiting for the complainant: resume first / 正在等待投诉人，请先恢复办理",
                       code="complaint_waiting")
    at = now()
    note = data.get("note") or data.get("reason")
    if action in ("answer", "return"):
        _forbid(own, "Only the institution answers or returns", "仅被投诉机构可答复或退回")
    elif action == "satisfaction":
        _forbid(mine or staff, "The complainant (or staff for them) gives satisfaction", "由投诉人评价满意度")
    else:
        _forbid(staff, "Platform staff handle complaints", "由平台工作人员办理")
    if action == "accept":
        complaint.state, complaint.accepted_at, complaint.handler_id = "accepted", at, str(principal["user_id"])
        sla.stop_clock(session, (ACCEPT_RULE, CASE, complaint.id), at=at, missing_ok=True)
        sla.start_clock(session, CLOSE_RULE, CASE, complaint.id, at=at)
        _event(session, "complaint.accepted", complaint, at)
    elif action == "investigate":
        complaint.state, complaint.investigated_at = "investigated", at
    elif action == "forward":
        complaint.state, complaint.forwarded_at = "forwarded", at
        _start_reply_clock(session, complaint, at)
        _event(session, "complaint.forwarded", complaint, at)
    elif action == "answer":
        complaint.state, complaint.answered_at, complaint.answer = "answered", at, data["note"]
        sla.stop_clock(session, (_reply_rule(session, complaint), CASE, complaint.id), at=at, missing_ok=True)
        _event(session, "complaint.answered", complaint, at)
    elif action == "return":
        if complaint.returned_at is not None:
            raise Conflict("A complaint may be returned once / 投诉只能退回一次", code="complaint_returned_once")
        complaint.state, complaint.returned_at, complaint.return_reason = "returned", at, data["reason"]
        sla.stop_clock(session, (_reply_rule(session, complaint), CASE, complaint.id), at=at, missing_ok=True)
    elif action == "decide_return":
        if data["accept_return"]:
            complaint.state, complaint.return_decision = "investigated", "accepted"
        else:
            complaint.state, complaint.return_decision = "forwarded", "refused"
            _start_reply_clock(session, complaint, at)
    elif action == "decide":
        complaint.state, complaint.decided_at = "decided", at
        complaint.outcome, complaint.outcome_text = data["outcome"], data["note"]
    elif action == "tell":
        complaint.state, complaint.told_at, complaint.told_channel = "told", at, data["channel"]
        note = data["channel"]
    elif action == "satisfaction":
        complaint.state, complaint.satisfaction, complaint.closed_at = "closed", data["rating"], at
        note = data["rating"]
        for clock in _open_clocks(session, complaint.id):
            sla.stop_clock(session, clock, at=at)
        _close_event(session, complaint, at)
    elif action == "pause":
        if complaint.waiting:
            raise Conflict("Already waiting / 已在等待", code="complaint_waiting")
        complaint.waiting = True
        session.add(ComplaintPause(complaint_id=complaint.id, started_at=at, reason=data["reason"],
                                   started_by=str(principal["user_id"])))
        for clock in _open_clocks(session, complaint.id):
            sla.pause_clock(session, clock, at=at)
        audit(session, principal, "complaint.paused", "complaint", complaint.id, detail={"reason": data["reason"]})
    elif action == "resume":
        if not complaint.waiting:
            raise Conflict("Not waiting / 未在等待", code="complaint_not_waiting")
        complaint.waiting = False
        pause = session.scalars(select(ComplaintPause).where(ComplaintPause.complaint_id == complaint.id,
                                                             ComplaintPause.ended_at.is_(None))).first()
        if pause is not None:
            pause.ended_at, pause.ended_by = at, str(principal["user_id"])
        for clock in _open_clocks(session, complaint.id):
            sla.resume_clock(session, clock, at=at)
        audit(session, principal, "complaint.resumed", "complaint", complaint.id)
    elif action == "merge":
        target = session.get(Complaint, data["into"])
        if target is None:
            raise NotFound("No complaint to merge into / 要合并到的投诉不存在", code="complaint_not_found")
        if target.id == complaint.id or target.state == "merged":
            raise Conflict("Merge into another complaint that is not merged itself / 请合并到另一件未合并的投诉",
                           code="complaint_merge_target")
        complaint.state, complaint.merged_into, complaint.waiting = "merged", target.id, False
        note = f"into {target.number}"
        for clock in _open_clocks(session, complaint.id):
            sla.cancel_clock(session, clock, at=at)
        add_step(session, CASE, target.id, "merged_in", principal, note=complaint.number, at=at)
    add_step(session, CASE, complaint.id, action, principal, note=note, at=at)
    return _view(session, principal, complaint)


def _close_event(session: Session, complaint: Complaint, at) -> None:
    from . import callbacks
    block = None
    if complaint.complainant_id:
        block = {"service_type": "complaint", "service_id": complaint.id, "enterprise_id": complaint.complainant_id,
                 # the platform's complaint handling is rated, not the institution complained about
                 "institution_id": None, "window_id": None, "handler_id": complaint.handler_id,
                 "finished_at": iso(at)}
    _event(session, "complaint.closed", complaint, at, outcome=complaint.outcome, evaluation=block)
    callbacks.plan_for_complaint(session, complaint)


def escalate_due(session: Session, at=None) -> list[Complaint]:
    """Forwarded complaints unanswered for the rule's `escalate_after_working_days` are escalated
    (once) to the rule's `escalate_to` role (run by the service's sweep); what an escalation writes
    (audit entry, notices to that role and the handler, step, complaint.escalated) is
    services.feedback.escalations.complaint_escalated's."""
    from services.common.errors import CalendarYearMissing
    from services.common.workdays import get_calendar
    at = at or now()
    escalated = []
    for complaint in session.scalars(select(Complaint).where(Complaint.state == "forwarded",
                                                             Complaint.waiting.is_(False))):
        rule = rules.rule_for(session, complaint.type)
        if rule is None or any(s.action == "escalate" for s in steps_of(session, CASE, complaint.id)):
            continue
        try:
            waited = get_calendar().working_days_between(complaint.forwarded_at, at)
        except CalendarYearMissing:
            continue
        if waited >= rule.escalate_after_working_days:
            escalations.complaint_escalated(session, complaint, rule.escalate_to, waited, at)
            escalated.append(complaint)
    return escalated
