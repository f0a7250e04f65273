"""Helpers shared by the booking domain modules: time, policy, access, refusals, events."""
from __future__ import annotations

import datetime as dt
import functools
import json
from pathlib import Path

from services.common.db import utcnow
from services.common.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from services.common.outbox import record_event
from services.common.platform import OPERATORS, STAFF_READERS

from . import rules as engine

SOURCE = "booking"
DATA = Path(__file__).resolve().parent / "data"


@functools.lru_cache(maxsize=1)
def policy() -> dict:
    return json.loads((DATA / "policy.json").read_text(encoding="utf-8"))


def check_in_lead() -> dt.timedelta:
    """How long before its start a booking can be checked in and its use started (policy.json);
    bookings' responses carry the resulting `check_in_opens_at`, so no client repeats the figure."""
    return dt.timedelta(minutes=policy()["checkin_opens_minutes_before"])


def check_in_opens_at(starts_at: dt.datetime) -> dt.datetime:
    return starts_at - check_in_lead()


def utc(value: dt.datetime) -> dt.datetime:
    """An aware datetime (from a request) as naive UTC, whole minutes kept."""
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None)


def iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def clock() -> dt.datetime:
    """The service's "now" (naive UTC); tests replace it."""
    return utcnow()


def now_or(at: dt.datetime | None) -> dt.datetime:
    return at or clock()


def require_caller(principal: dict | None) -> dict:
    if not principal:
        raise Unauthorized("Sign in first / 请先登录", code="token_missing")
    return principal


def is_operator(principal: dict | None) -> bool:
    return bool(principal) and principal.get("role") in OPERATORS


def is_reader(principal: dict | None) -> bool:
    return bool(principal) and principal.get("role") in STAFF_READERS


def is_institution_staff(principal: dict | None, institution_id: str) -> bool:
    return (bool(principal) and principal.get("role") == "institution"
            and principal.get("institution_id") == institution_id)


def require_institution_staff(principal: dict | None, institution_id: str) -> None:
    if not (is_operator(principal) or is_institution_staff(principal, institution_id)):
        raise Forbidden("Only the owning institution's staff or operators may do this / 仅所属机构人员或运营人员可操作",
                        code="not_instrument_owner")


def refuse(violations: list[engine.Violation]) -> None:
    """422 listing every broken rule, or 409 when the only trouble is another booking."""
    ids = [v.rule for v in violations]
    detail = ("预约不符合规则 / The booking breaks rules: " + ", ".join(ids) + " — " +
              "；".join(v.zh for v in violations) + " / " + "; ".join(v.en for v in violations))
    errors = {"rules": [v.view() for v in violations]}
    if engine.only_occupancy(violations):
        raise Conflict(detail, errors=errors, code="slot_taken")
    raise ValidationFailed(detail, errors=errors, code="booking_rules_violated")


def slot_taken() -> Conflict:
    v = engine.violation("slot.booked")
    return Conflict(f"预约不符合规则 / The booking breaks rules: slot.booked — {v.zh} / {v.en}",
                    errors={"rules": [v.view()]}, code="slot_taken")


def wrong_state(what: str, status: str) -> Conflict:
    return Conflict(f"Cannot {what} a booking that is {status} / 当前状态（{status}）不能执行该操作",
                    code="booking_state")


def not_found(kind: str) -> NotFound:
    zh = {"instrument": "仪器", "booking": "预约", "slot": "预约时段", "appointment": "窗口预约",
          "suspension": "爽约暂停"}[kind]
    return NotFound(f"No such {kind} / {zh}不存在", code=f"{kind}_not_found")


def event(session, event_type: str, subject: str, data: dict) -> dict:
    return record_event(session, SOURCE, event_type, subject, data)
