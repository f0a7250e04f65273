"""Qualifications from training attendance (registry training.attended, idempotent), their expiry by
the instrument's rule (fixed months, or N days without use renewed by a completed booking), judged
by the rule engine for requests and availability alike; the operator-assisted fallback stays."""
from __future__ import annotations

import datetime as dt

import pytest

from services.booking import rules as engine
from services.booking.tests.helpers import (ALICE, BOB, STAFF, apply, approved, call, instrument_payload, local,
                                            new_key)
from services.common.errors import ValidationFailed
from services.common.events import make_envelope

TRAINING = "7b1d3f5a-9c2e-4a6b-8d0f-2e4c6a8b0d13"


def attended(user_id=ALICE["user_id"], code="icpms-operation", on="2026-12-01"):
    return make_envelope("registry", "training.attended", TRAINING, {
        "training_id": TRAINING, "user_id": user_id, "category_code": "testing", "qualification_code": code,
        "attended_on": on})


def consume(db, envelope):
    from services.booking import qualifications
    with db.transaction() as session:
        return qualifications.apply_training_attended(session, envelope)


def icpms(db, **rules):
    apply(db, approved())
    payload = instrument_payload(qualification_required=True, qualification_code="icpms-operation",
                                 horizon_working_days=30, **rules)
    return call(db, "publish_instrument", STAFF, payload=payload, idempotency_key=new_key())


def body(inst, day, start=9, end=10, **extra):
    return {"instrument_id": inst["id"], "starts_at": local(2026, 12, day, start),
            "ends_at": local(2026, 12, day, end), "price_group": "enterprise", **extra}


def rule_ids(exc):
    return [r["rule"] for r in exc.value.errors["rules"]]


def test_attendance_grants_every_instrument_requiring_the_code_once(db, clock):
    first = icpms(db)
    second = icpms(db)
    other = call(db, "publish_instrument", STAFF, payload=instrument_payload(
        qualification_required=True, qualification_code="sem-operation"))
    with pytest.raises(ValidationFailed) as exc:
        call(db, "request_booking", ALICE, payload=body(first, 2))
    assert rule_ids(exc) == ["qualification.missing"]
    envelope = attended()
    assert consume(db, envelope) == "granted:2"
    assert consume(db, envelope) == "duplicate"                       # redelivered: claimed once
    mine = call(db, "my_qualifications", ALICE)
    assert sorted(q["instrument_id"] for q in mine) == sorted([first["id"], second["id"]])
    assert {q["source"] for q in mine} == {"training"} and {q["training_id"] for q in mine} == {TRAINING}
    assert call(db, "request_booking", ALICE, payload=body(first, 2))["mode"] == "self"
    with pytest.raises(ValidationFailed):
        call(db, "request_booking", ALICE, payload=body(other, 2))
    assert consume(db, attended(code=None)) == "no_qualification"
    later = call(db, "publish_instrument", STAFF, payload=instrument_payload(           # published after the training
        qualification_required=True, qualification_code="icpms-operation"))
    assert later["id"] in {q["instrument_id"] for q in call(db, "my_qualifications", ALICE)}
    call(db, "change_instrument", STAFF, instrument_id=later["id"], payload=instrument_payload(
        qualification_required=True, qualification_code="icpms-operation", min_minutes=120))
    assert len(call(db, "my_qualifications", ALICE)) == 3                                 # granted once


def test_fixed_months_expiry_is_judged_at_the_slot_by_request_and_availability_alike(db, clock):
    inst = icpms(db, qualification_months=1)
    consume(db, attended())          # 1 Dec 2026 -> valid until 31 Dec 00:00 Shanghai
    av = call(db, "instrument_availability", ALICE, instrument_id=inst["id"],
              query={"from": "2026-12-30", "to": "2026-12-31"})
    assert av["qualification"]["state"] == "valid" and av["qualification"]["code"] == "icpms-operation"
    by_day = {}
    for s in av["slots"]:
        by_day.setdefault(s["start_local"][:10], set()).update(r["rule"] for r in s["rules"])
    assert "qualification.expired" not in by_day["2026-12-30"]
    assert "qualification.expired" in by_day["2026-12-31"]
    assert call(db, "request_booking", ALICE, payload=body(inst, 30))["status"] == "requested"
    with pytest.raises(ValidationFailed) as exc:
        call(db, "request_booking", ALICE, payload=body(inst, 31))
    assert rule_ids(exc) == ["qualification.expired"] and "1 months after the grant" in exc.value.errors["rules"][0][
        "message_en"]
    assisted = call(db, "instrument_availability", ALICE, instrument_id=inst["id"],
                    query={"from": "2026-12-31", "to": "2026-12-31", "mode": "assisted"})
    assert not any(r["rule"].startswith("qualification") for s in assisted["slots"] for r in s["rules"])
    assert call(db, "request_booking", ALICE, payload=body(inst, 31, mode="assisted"))["mode"] == "assisted"
    anonymous = call(db, "instrument_availability", instrument_id=inst["id"], query={"from": "2026-12-31",
                                                                                   "to": "2026-12-31"})
    assert anonymous["qualification"]["state"] == "unknown"


def test_idle_days_expiry_is_renewed_by_a_completed_booking(db, clock):
    inst = icpms(db, qualification_expiry="idle_days", qualification_idle_days=10, approval_required=False)
    consume(db, attended(user_id=BOB["user_id"]))       # idle from 1 Dec: lapses 11 Dec 00:00 Shanghai
    consume(db, attended())
    b = call(db, "request_booking", ALICE, payload=body(inst, 2))
    clock["now"] = dt.datetime(2026, 12, 2, 1, 0)                     # 09:00 Shanghai
    call(db, "check_in_booking", STAFF, booking_id=b["id"], payload={})
    clock["now"] = dt.datetime(2026, 12, 2, 2, 0)
    call(db, "complete_booking", STAFF, booking_id=b["id"], payload={"actual_start": local(2026, 12, 2, 9),
                                                                    "actual_end": local(2026, 12, 2, 10)})
    clock["now"] = dt.datetime(2026, 12, 11, 1, 0)                    # 11 Dec 09:00: Bob idle 10 days
    with pytest.raises(ValidationFailed) as exc:
        call(db, "request_booking", BOB, payload=body(inst, 15))
    assert rule_ids(exc) == ["qualification.expired"] and "10 days without use" in exc.value.errors["rules"][0][
        "message_en"]
    assert call(db, "request_booking", ALICE, payload=body(inst, 15))["status"] == "confirmed"   # renewed 2 Dec
    assert call(db, "instrument_availability", BOB, instrument_id=inst["id"],
                query={"from": "2026-12-16", "to": "2026-12-16"})["qualification"]["state"] == "expired"


def test_the_engine_judges_both_rules():
    grant = engine.Grant(granted_at=dt.datetime(2026, 1, 1), expires_at=dt.datetime(2026, 7, 1),
                         last_used_at=dt.datetime(2026, 3, 1))
    fixed = engine.InstrumentRules(qualification_required=True)
    idle = engine.InstrumentRules(qualification_required=True, operator_assisted=True, qualification_expiry="idle_days",
                                  qualification_idle_days=30)
    assert engine.grant_expiry(fixed, grant) == dt.datetime(2026, 7, 1)
    assert engine.grant_expiry(idle, grant) == dt.datetime(2026, 3, 31)
    ctx = engine.Context(now=dt.datetime(2026, 4, 1), is_working_day=lambda d: True,
                         add_working_days=lambda d, n: d, grants=[grant])
    assert engine.qualification_status(fixed, ctx, dt.datetime(2026, 6, 30))["state"] == "valid"
    assert engine.qualification_status(fixed, ctx, dt.datetime(2026, 7, 2))["state"] == "expired"
    assert engine.qualification_status(idle, ctx)["state"] == "expired"
    assert engine.mode_violations(idle, dt.datetime(2026, 4, 2), ctx, "assisted") == []
