"""Phone verification by one-time code (R-6.1.1) and the pluggable SMS sender.

A code is 6 digits from `secrets`, lives 5 minutes, allows 5 guesses, and is
stored only as an HMAC bound to its challenge id: a million possible codes are
trivial to brute-force from an unkeyed hash, and the binding stops a hash from
one challenge being replayed into another. Requesting a new code voids the
open one. At most one code per minute and five per hour per account (SMS costs
money and floods the recipient).

`verify_code` returns the error instead of raising it when a guess was wrong:
the attempt counter must be committed, or a failing call would roll back its
own increment and guessing would be unlimited.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from prometheus_client import Counter
from sqlalchemy import select

from services.common import config, pii
from services.common.db import utcnow
from services.common.errors import Conflict, DomainError, ServiceUnavailable, TooManyRequests, ValidationFailed
from services.common.events import iso_utc

from . import levels
from .contract.vocabulary import CODE_PURPOSES
from .models import PhoneChallenge, User
from .principals import commit_then_raise, load_actor
from .users import me_in_transaction

SOURCE = "identity"
CODE_TTL = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 5
RESEND_INTERVAL = dt.timedelta(seconds=60)
HOURLY_LIMIT = 5
PURPOSES = CODE_PURPOSES
OTP_SENT = Counter("qi_identity_otp_sent_total", "One-time codes sent", ["purpose"])


@dataclass(frozen=True)
class CodeSent:
    """What PhoneCodeSent dumps: the challenge, and the masked number the code went to."""

    challenge_id: str
    purpose: str
    phone: str
    expires_at: dt.datetime
    resend_after: dt.datetime


class SmsSender(Protocol):
    def send(self, *, user_id: str, phone: str, code: str, purpose: str, at: dt.datetime) -> None:
        """Deliver `code` to `phone`; raise to make the request fail (and roll back)."""


class LogSmsSender:
    """The local stand-in for an SMS gateway: one JSON line per message in
    `<data dir>/sms-outbox.log`, where a tester reads the code.

    The line holds the masked number only: this file is a log, and logs must
    not collect phone numbers.
    """

    _lock = threading.Lock()

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path else config.data_dir() / "sms-outbox.log"

    def send(self, *, user_id: str, phone: str, code: str, purpose: str, at: dt.datetime) -> None:
        line = json.dumps({"user_id": user_id, "phone_masked": pii.mask_phone(phone), "code": code,
                           "purpose": purpose, "at": iso_utc(at)}, ensure_ascii=False)
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def sender_from_config() -> SmsSender:
    # QI_SMS_SENDER: "log" (default) is the only sender shipped; a real SMS
    # provider plugs in here.
    name = (config.env("QI_SMS_SENDER", "log") or "log").strip().lower()
    if name == "log":
        return LogSmsSender()
    raise RuntimeError(f"unknown QI_SMS_SENDER {name!r} (supported: log)")


def _code_hash(challenge_id: str, code: str) -> str:
    # Same secret as the blind index, separated by the "otp" label so the two
    # uses never produce comparable values.
    key = config.blind_index_key().encode("utf-8")
    return hmac.new(key, b"otp\x00" + challenge_id.encode() + b"\x00" + code.encode(), hashlib.sha256).hexdigest()


def _open_challenge(session, user_id: str, purpose: str) -> PhoneChallenge | None:
    return session.scalars(select(PhoneChallenge).where(PhoneChallenge.user_id == user_id)
                           .where(PhoneChallenge.purpose == purpose)
                           .where(PhoneChallenge.consumed_at.is_(None))
                           .order_by(PhoneChallenge.created_at.desc()).limit(1)).first()


def request_code(session, user: User, purpose: str, sender: SmsSender, now: dt.datetime | None = None) -> CodeSent:
    now = now or utcnow()
    if purpose not in PURPOSES:
        raise ValidationFailed("Unknown purpose / 未知用途", errors={"purpose": [f"one of {', '.join(PURPOSES)}"]})
    if not user.phone or not user.phone_bidx:
        raise Conflict("The account has no phone number / 账号未登记手机号", code="no_phone")
    if purpose == "verify_phone" and user.phone_verified_at is not None:
        raise Conflict("The phone number is already verified / 手机号已验证", code="phone_already_verified")

    recent = session.scalars(select(PhoneChallenge).where(PhoneChallenge.user_id == user.id)
                             .where(PhoneChallenge.created_at > now - dt.timedelta(hours=1))
                             .order_by(PhoneChallenge.created_at.desc())).all()
    if recent and recent[0].created_at > now - RESEND_INTERVAL:
        wait = int((recent[0].created_at + RESEND_INTERVAL - now).total_seconds()) + 1
        raise TooManyRequests(f"Wait {wait} s before requesting another code / 请 {wait} 秒后再获取验证码",
                              code="otp_resend_too_soon", retry_after=wait)
    if len(recent) >= HOURLY_LIMIT:
        wait = int((recent[HOURLY_LIMIT - 1].created_at + dt.timedelta(hours=1) - now).total_seconds()) + 1
        raise TooManyRequests(f"At most {HOURLY_LIMIT} codes per hour; retry in {wait} s / "
                              f"每小时最多获取 {HOURLY_LIMIT} 次验证码，请 {wait} 秒后再试", code="otp_hourly_limit",
                              retry_after=wait)

    for old in recent:
        if old.purpose == purpose and old.consumed_at is None and old.expires_at > now:
            old.expires_at = now

    code = f"{secrets.randbelow(10 ** 6):06d}"
    challenge_id = str(uuid.uuid4())
    challenge = PhoneChallenge(id=challenge_id, user_id=user.id, purpose=purpose, phone_bidx=user.phone_bidx,
                               code_hash=_code_hash(challenge_id, code), expires_at=now + CODE_TTL, attempts=0,
                               max_attempts=MAX_ATTEMPTS, created_at=now)
    session.add(challenge)
    session.flush()
    try:
        sender.send(user_id=user.id, phone=user.phone, code=code, purpose=purpose, at=now)
    except Exception as exc:
        # Rolling back also gives the user their rate-limit slot back.
        raise ServiceUnavailable(f"SMS could not be sent ({type(exc).__name__}) / 短信发送失败",
                                 code="sms_unavailable") from None
    return CodeSent(challenge_id, purpose, pii.mask_phone(user.phone), challenge.expires_at, now + RESEND_INTERVAL)


def _locked(challenge: PhoneChallenge, now: dt.datetime) -> TooManyRequests:
    # A new code (the way out) may be requested once the resend interval has passed.
    wait = max(1, int((challenge.created_at + RESEND_INTERVAL - now).total_seconds()) + 1)
    return TooManyRequests("Too many wrong codes: request a new one / 验证码错误次数过多，请重新获取",
                           code="otp_locked", retry_after=wait)


def verify_code(session, user: User, code: str, purpose: str = "verify_phone",
                now: dt.datetime | None = None) -> User | DomainError:
    """Check a code; on success mark the phone verified and emit `user.verified`."""
    now = now or utcnow()
    challenge = _open_challenge(session, user.id, purpose)
    if challenge is None or challenge.expires_at <= now or challenge.phone_bidx != user.phone_bidx:
        return ValidationFailed("No valid code: request a new one / 验证码已失效，请重新获取", code="otp_expired",
                                errors={"code": ["验证码已失效 / code expired or not requested"]})
    if challenge.attempts >= challenge.max_attempts:
        return _locked(challenge, now)
    challenge.attempts += 1
    expected = challenge.code_hash
    given = _code_hash(challenge.id, code if isinstance(code, str) else "")
    if not hmac.compare_digest(expected, given):
        left = challenge.max_attempts - challenge.attempts
        if left <= 0:
            return _locked(challenge, now)
        return ValidationFailed("Wrong code / 验证码错误", code="otp_invalid",
                                errors={"code": [f"验证码错误，还可尝试 {left} 次 / wrong code, {left} attempts left"]})
    challenge.consumed_at = now
    if purpose == "verify_phone":
        before = levels.level_of(user)
        user.phone_verified_at = now
        user.updated_at = now
        levels.announce_if_raised(session, user, before, "phone", now)
    return user


# --- the operations ------------------------------------------------------------------------

def request_phone_code(session, principal: dict, data: dict, sms: SmsSender) -> CodeSent:
    """POST /auth/phone/code: send a code to the caller's own mobile."""
    result = request_code(session, load_actor(session, principal), data["purpose"], sms)
    OTP_SENT.labels(data["purpose"]).inc()
    return result


def verify_phone(session, principal: dict, data: dict):
    """POST /auth/phone/verify: a wrong guess is counted (committed) before it is refused."""
    user = load_actor(session, principal)
    commit_then_raise(session, verify_code(session, user, data["code"], data["purpose"]))
    return me_in_transaction(session, principal)
