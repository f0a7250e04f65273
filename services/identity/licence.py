"""Business-licence review (level `licence_reviewed`, R-6.1.1 后台实名).

An enterprise whose phone is verified uploads its business licence; an operator
compares it with the registered name and USCC and approves it, or returns it
with a reason; the enterprise then uploads a corrected file (resubmission).
The review runs against the SLA rule `identity.licence_review` (working days
from services/common/data/sla_rules.json): the clock starts at the upload,
pauses while the licence is back with the enterprise, restarts in full on
resubmission (the rule says so) and stops at approval.

Decisions are audited; approval raises the level and announces `user.verified`.
The new level reaches other services in the next access token (refresh).
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import select

from services.common import sla
from services.common.audit import audit
from services.common.db import utcnow
from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.common.events import iso_utc
from services.common.platform import OPERATORS, STAFF_READERS
from services.common.verification_levels import meets

from . import levels, licence_files
from .models import IdentityFile, LicenceReview, User
from .principals import load_actor, require_role

RULE = "identity.licence_review"
SUBJECT = "user"
REVIEWERS = OPERATORS
QUEUE_READERS = STAFF_READERS


def _log(review: LicenceReview, at: dt.datetime, action: str, by: str, **extra) -> None:
    entries = json.loads(review.history or "[]")
    entries.append({"at": iso_utc(at), "action": action, "by": by, **extra})
    review.history = json.dumps(entries, ensure_ascii=False)


def _clock(session, user_id: str):
    return session.scalars(select(sla.SlaClock).where(sla.SlaClock.rule == RULE, sla.SlaClock.subject_type == SUBJECT,
                                                      sla.SlaClock.subject_id == user_id)
                           .order_by(sla.SlaClock.started_at.desc())).first()


@dataclass(frozen=True)
class FileRef:
    file_id: str
    filename: str
    media_type: str | None = None
    size: int | None = None
    content_base64: bytes | None = None   # the bytes (LicenceFileOut encodes them)


class Case:
    """A licence review as LicenceReviewOut dumps it: the review, its account, its file, its SLA clock."""

    def __init__(self, session, review: LicenceReview, user: User | None = None):
        self._session = session
        self._review = review
        self._user = user or session.get(User, review.user_id)

    def __getattr__(self, name):   # user_id, status, round, submitted_at, decided_at, return_reason
        return getattr(self._review, name)

    nickname = property(lambda self: self._user.nickname)
    org_name = property(lambda self: self._user.org_name)
    uscc = property(lambda self: self._user.uscc)
    verification_level = property(lambda self: levels.level_of(self._user))
    history = property(lambda self: json.loads(self._review.history or "[]"))

    @property
    def file(self) -> FileRef:
        stored = self._session.get(IdentityFile, self._review.file_sha256)
        return FileRef(self._review.file_sha256, self._review.filename,
                       stored.media_type if stored else None, stored.size if stored else None)

    @property
    def review_clock(self) -> dict | None:
        clock = _clock(self._session, self._review.user_id)
        return sla.clock_view(clock) if clock is not None else None


def submit(session, user: User, attachment, at: dt.datetime | None = None) -> Case:
    """First upload or resubmission after a return."""
    at = at or utcnow()
    if user.role != "enterprise":
        raise Forbidden("Only enterprise accounts upload a business licence / 仅企业账号可上传营业执照")
    if not meets(levels.level_of(user), "phone_verified"):
        raise Conflict("Verify your mobile number first: the reviewer may call it back / 请先验证手机号，审核人员可能回拨核实",
                       code="phone_not_verified")
    prepared = licence_files.check(attachment)
    if isinstance(prepared, str):
        raise ValidationFailed("The licence file was refused / 营业执照文件不符合要求", errors={"licence": [prepared]})
    review = session.scalar(select(LicenceReview).where(LicenceReview.user_id == user.id).with_for_update())
    if review is not None and review.status == "submitted":
        raise Conflict("The licence is under review; wait for the decision / 营业执照正在审核中，请等待结果",
                       code="licence_under_review")
    if review is not None and review.status == "approved":
        raise Conflict("The licence is already approved / 营业执照已审核通过", code="licence_already_approved")
    stored = licence_files.store(session, prepared)
    if review is None:
        review = LicenceReview(user_id=user.id, status="submitted", file_sha256=stored.sha256,
                               filename=prepared.filename, round=1, submitted_at=at, history="[]")
        session.add(review)
        session.flush()
        # No institution or window: platform operators review licences, so the verdict counts for
        # the platform's on-time rate only (sla.clock_closed; docs/traceability.md, R-7.1.3). The
        # stop names none either, even when the reviewer's token is bound to a window.
        sla.start_clock(session, RULE, SUBJECT, user.id, at=at)
        _log(review, at, "submitted", user.id, file_id=stored.sha256)
    else:   # returned -> resubmitted: the full limit counts again
        review.status, review.file_sha256, review.filename = "submitted", stored.sha256, prepared.filename
        review.round += 1
        review.submitted_at, review.decided_at, review.decided_by = at, None, None
        sla.restart_clock(session, (RULE, SUBJECT, user.id), at=at)
        _log(review, at, "resubmitted", user.id, file_id=stored.sha256)
    return Case(session, review, user)


def own(session, user: User) -> Case:
    review = session.scalar(select(LicenceReview).where(LicenceReview.user_id == user.id))
    if review is None:
        raise NotFound("No business licence uploaded yet / 尚未上传营业执照", code="licence_not_found")
    return Case(session, review, user)


def queue(session, status: str | None = "submitted", limit: int = 50) -> dict:
    """Reviews by status, oldest submission first (the order they fall due)."""
    query = select(LicenceReview)
    if status:
        query = query.where(LicenceReview.status == status)
    rows = session.scalars(query.order_by(LicenceReview.submitted_at).limit(max(1, min(int(limit), 200)))).all()
    return {"items": [Case(session, r) for r in rows]}


def _load(session, user_id: str, for_update: bool = False) -> LicenceReview:
    query = select(LicenceReview).where(LicenceReview.user_id == str(user_id))
    review = session.scalar(query.with_for_update() if for_update else query)
    if review is None:
        raise NotFound("No licence review for this account / 该账号没有营业执照审核", code="licence_not_found")
    return review


def file_for_review(session, principal: dict, user_id: str) -> FileRef:
    review = _load(session, user_id)
    stored = session.get(IdentityFile, review.file_sha256)
    content = licence_files.read(review.file_sha256)
    if stored is None or content is None:
        raise NotFound("The licence file is missing from the store / 营业执照文件缺失", code="licence_file_missing")
    audit(session, principal, "licence.file_viewed", "user", review.user_id, owner_id=review.user_id,
          detail={"file_id": review.file_sha256, "round": review.round})
    return FileRef(stored.sha256, review.filename, stored.media_type, stored.size, content)


def decide(session, principal: dict, user_id: str, data: dict, at: dt.datetime | None = None) -> Case:
    """data: {"decision": "approve" | "return", "reason": str (required to return)}."""
    at = at or utcnow()
    review = _load(session, user_id, for_update=True)
    if review.status != "submitted":
        raise Conflict(f"The licence is {review.status}, not awaiting review / 营业执照不在待审核状态",
                       code="licence_not_under_review")
    user = session.get(User, review.user_id)
    reviewer = str(principal["user_id"])
    if data["decision"] == "return":
        reason = (data.get("reason") or "").strip()
        if not reason:
            raise ValidationFailed("Say why the licence is returned / 退回须说明原因",
                                   errors={"reason": ["退回须说明原因 / required when returning"]})
        review.status, review.return_reason = "returned", reason
        review.decided_at, review.decided_by = at, reviewer
        # Waiting for the enterprise does not count against the reviewer.
        sla.pause_clock(session, (RULE, SUBJECT, review.user_id), at=at)
        _log(review, at, "returned", reviewer, reason=reason)
        audit(session, principal, "licence.returned", "user", review.user_id, owner_id=review.user_id,
              detail={"round": review.round})
    else:
        before = levels.level_of(user)
        review.status, review.return_reason = "approved", None
        review.decided_at, review.decided_by = at, reviewer
        user.licence_reviewed_at = at
        user.updated_at = at
        sla.stop_clock(session, (RULE, SUBJECT, review.user_id), at=at, missing_ok=True)
        _log(review, at, "approved", reviewer)
        audit(session, principal, "licence.approved", "user", review.user_id, owner_id=review.user_id,
              detail={"round": review.round, "file_id": review.file_sha256})
        levels.announce_if_raised(session, user, before, "licence", at)
    return Case(session, review, user)


def open_clocks(session, overdue: bool | None = None, calendar_gap: bool | None = None) -> list[dict]:
    return [sla.clock_view(c) for c in sla.list_clocks(session, state=list(sla.OPEN_STATES), rule=RULE,
                                                       overdue=overdue, calendar_gap=calendar_gap)]


# --- the operations ------------------------------------------------------------------------

def upload_licence(session, principal: dict, data: dict) -> Case:
    return submit(session, load_actor(session, principal), data)


def my_licence(session, principal: dict) -> Case:
    return own(session, load_actor(session, principal))


def licence_queue(session, principal: dict, status: str = "submitted", limit: int = 50) -> dict:
    require_role(session, principal, QUEUE_READERS)
    return queue(session, status=status, limit=limit)


def licence_file(session, principal: dict, user_id: str) -> FileRef:
    require_role(session, principal, REVIEWERS)
    return file_for_review(session, principal, user_id)


def decide_licence(session, principal: dict, user_id: str, data: dict) -> Case:
    require_role(session, principal, REVIEWERS)
    return decide(session, principal, user_id, data)


def list_open_clocks(session, principal: dict, overdue: bool | None = None, calendar_gap: bool | None = None) -> list:
    """Open licence-review clocks, for GET /sla/clocks (staff)."""
    require_role(session, principal, QUEUE_READERS)
    return open_clocks(session, overdue=overdue, calendar_gap=calendar_gap)
