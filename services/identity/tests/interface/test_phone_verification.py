"""R-6.1.1 mobile verification by one-time code: hashing, expiry, attempts, rate limits, the SMS log."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from services.common import errors
from services.common.db import utcnow
from services.identity import verification
from services.identity.models import PhoneChallenge, User

from ..helpers import assert_no_pii, count, enterprise_payload, events, principal_of

T0 = dt.datetime(2026, 3, 2, 9, 0, 0)


@pytest.fixture
def user_id(service):
    return service.register(enterprise_payload())["id"]


def _request(db, user_id, sms, now):
    with db.transaction() as session:
        return verification.request_code(session, session.get(User, user_id), "verify_phone", sms, now=now)


def _verify(db, user_id, code, now):
    """Like the service: commit first, then surface the error."""
    with db.transaction() as session:
        result = verification.verify_code(session, session.get(User, user_id), code, now=now)
    return result


def test_code_is_sent_hashed_and_verifies_the_phone(service, db, sms, user_id):
    principal = principal_of({"id": user_id, "role": "enterprise"})
    sent = service.request_phone_code(principal, {})
    code = sms.last_code
    assert len(code) == 6 and code.isdigit()
    assert sent["phone"] == "139****5678"
    with db.read() as session:
        challenge = session.query(PhoneChallenge).one()
        assert code not in challenge.code_hash and len(challenge.code_hash) == 64
        assert challenge.max_attempts == 5
        assert challenge.expires_at - challenge.created_at == dt.timedelta(minutes=5)

    me = service.verify_phone(principal, {"code": code})
    assert me["phone_verified"] is True
    verified = [e for e in events(db, "user.verified") if e["data"]["aspect"] == "phone"]
    assert len(verified) == 1 and verified[0]["data"]["user_id"] == user_id
    with pytest.raises(errors.Conflict):
        service.request_phone_code(principal, {})


def test_expired_code_is_refused(db, sms, user_id):
    _request(db, user_id, sms, T0)
    result = _verify(db, user_id, sms.last_code, T0 + dt.timedelta(minutes=5, seconds=1))
    assert isinstance(result, errors.ValidationFailed) and result.code == "otp_expired"
    # Up to five minutes the same code still works.
    assert isinstance(_verify(db, user_id, sms.last_code, T0 + dt.timedelta(minutes=4, seconds=59)), User)


def test_wrong_guesses_are_counted_and_lock_the_code(service, db, sms, user_id):
    principal = principal_of({"id": user_id, "role": "enterprise"})
    service.request_phone_code(principal, {})
    good = sms.last_code
    wrong = "000000" if good != "000000" else "111111"
    for attempt in range(1, 5):
        with pytest.raises(errors.ValidationFailed) as caught:
            service.verify_phone(principal, {"code": wrong})
        assert caught.value.code == "otp_invalid"
        assert "code" in caught.value.errors
    with pytest.raises(errors.TooManyRequests):
        service.verify_phone(principal, {"code": wrong})
    # The failures were committed although each call failed.
    with db.read() as session:
        assert session.query(PhoneChallenge).one().attempts == 5
    with pytest.raises(errors.TooManyRequests) as caught:
        service.verify_phone(principal, {"code": good})
    assert caught.value.code == "otp_locked" and caught.value.retry_after >= 1
    with db.read() as session:
        assert session.get(User, user_id).phone_verified_at is None


def test_malformed_code_is_a_field_error(service, user_id):
    with pytest.raises(errors.ValidationFailed) as caught:
        service.verify_phone(principal_of({"id": user_id, "role": "enterprise"}), {"code": "12ab"})
    assert "code" in caught.value.errors


def test_resend_interval_and_hourly_limit(db, sms, user_id):
    _request(db, user_id, sms, T0)
    with pytest.raises(errors.TooManyRequests) as caught:
        _request(db, user_id, sms, T0 + dt.timedelta(seconds=59))
    assert caught.value.code == "otp_resend_too_soon" and caught.value.retry_after >= 1
    for minute in range(1, 5):
        _request(db, user_id, sms, T0 + dt.timedelta(minutes=minute))
    with pytest.raises(errors.TooManyRequests) as caught:
        _request(db, user_id, sms, T0 + dt.timedelta(minutes=10))
    assert caught.value.code == "otp_hourly_limit" and caught.value.retry_after >= 1
    assert count(db, PhoneChallenge) == 5
    _request(db, user_id, sms, T0 + dt.timedelta(hours=1, seconds=1))
    assert len(sms.sent) == 6


def test_a_new_code_voids_the_previous_one(db, sms, user_id):
    _request(db, user_id, sms, T0)
    first = sms.last_code
    _request(db, user_id, sms, T0 + dt.timedelta(seconds=61))
    second = sms.last_code
    if first != second:
        assert isinstance(_verify(db, user_id, first, T0 + dt.timedelta(seconds=62)), errors.DomainError)
    assert isinstance(_verify(db, user_id, second, T0 + dt.timedelta(seconds=63)), User)


def test_failed_send_rolls_back_and_keeps_the_rate_limit_slot(db, user_id):
    class Broken:
        def send(self, **kwargs):
            raise OSError("gateway down")

    with pytest.raises(errors.ServiceUnavailable):
        _request(db, user_id, Broken(), T0)
    assert count(db, PhoneChallenge) == 0


def test_log_sender_writes_masked_phone_and_code(tmp_path, db, user_id):
    sender = verification.sender_from_config()
    assert isinstance(sender, verification.LogSmsSender)
    assert sender.path == tmp_path / "sms-outbox.log"
    _request(db, user_id, sender, utcnow())
    text = sender.path.read_text(encoding="utf-8")
    line = json.loads(text.splitlines()[-1])
    assert set(line) == {"user_id", "phone_masked", "code", "purpose", "at"}
    assert line["phone_masked"] == "139****5678" and line["user_id"] == user_id
    assert_no_pii(text, "13912345678")


def test_unknown_sender_is_a_configuration_error(monkeypatch):
    monkeypatch.setenv("QI_SMS_SENDER", "carrier-pigeon")
    with pytest.raises(RuntimeError):
        verification.sender_from_config()
