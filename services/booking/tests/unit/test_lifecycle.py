"""Instruments, bookings and their lifecycle through the real pipeline (roles, schemas, transactions)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from services.booking import bookings
from services.booking.models import Booking, Instrument, SlotClaim
from services.booking.tests.helpers import (ALICE, BOB, OPERATOR, OTHER_STAFF, STAFF, apply, approved, call,
                                            deregistered, events, instrument_payload, local, new_key)
from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed


@pytest.fixture
def instrument(db, clock):
    apply(db, approved())
    return call(db, "publish_instrument", STAFF, payload=instrument_payload(), idempotency_key=new_key())


def book(db, who=ALICE, day=2, start=9, end=10, **extra):
    return call(db, "request_booking", who, payload={"instrument_id": extra.pop("instrument_id"),
                                                     "starts_at": local(2026, 12, day, start),
                                                     "ends_at": local(2026, 12, day, end), **extra},
                idempotency_key=new_key())


def count(db, model):
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_publish_needs_an_active_institution_and_valid_input(db, clock):
    with pytest.raises(Conflict) as exc:
        call(db, "publish_instrument", STAFF, payload=instrument_payload())
    assert exc.value.code == "institution_not_active"
    apply(db, approved())
    bad = instrument_payload(slot_minutes=25)
    bad["prices"][0]["hourly_rate"] = 200.0
    with pytest.raises(ValidationFailed) as exc:
        call(db, "publish_instrument", STAFF, payload=bad)
    assert "rules" in exc.value.errors and "prices" in exc.value.errors
    with pytest.raises(Forbidden):
        call(db, "publish_instrument", ALICE, payload=instrument_payload())
    assert count(db, Instrument) == 0 and events(db, "instrument.published") == []
    out = call(db, "publish_instrument", STAFF, payload=instrument_payload())
    assert out["prices"][0]["hourly_rate"] == "200.00" and out["institution_name"] == "泰州市产品质量监督检验所"
    assert events(db, "instrument.published")[0]["data"]["instrument_id"] == out["id"]
    found = call(db, "list_instruments", query={"q": "试验机", "category": "testing"})
    assert found["total"] == 1 and call(db, "list_instruments", query={"standard": "GB/T 228.1"})["total"] == 1
    with pytest.raises(Forbidden):
        call(db, "change_instrument", OTHER_STAFF, instrument_id=out["id"], payload=instrument_payload())


def test_availability_explains_and_booking_agrees(db, instrument):
    av = call(db, "instrument_availability", ALICE, instrument_id=instrument["id"],
              query={"from": "2026-12-01", "to": "2026-12-05"})
    by_day = {}
    for s in av["slots"]:
        by_day.setdefault(s["start_local"][:10], set()).update(r["rule"] for r in s["rules"])
    assert "notice.too_short" in by_day["2026-12-01"]
    assert "calendar.weekend" in by_day["2026-12-05"]
    assert any(s["state"] == "free" for s in av["slots"] if s["start_local"].startswith("2026-12-02"))
    with pytest.raises(ValidationFailed) as exc:
        book(db, day=5, instrument_id=instrument["id"])
    assert {r["rule"] for r in exc.value.errors["rules"]} == {"calendar.weekend", "hours.outside"}
    assert count(db, Booking) == 0
    with pytest.raises(ValidationFailed):
        call(db, "instrument_availability", instrument_id=instrument["id"], query={"from": "2026-12-01",
                                                                                   "to": "2027-03-01"})


def test_the_booking_says_when_check_in_opens_and_check_in_keeps_to_it(db, instrument, clock):
    b = book(db, instrument_id=instrument["id"], start=9, end=11)
    call(db, "approve_booking", STAFF, booking_id=b["id"], payload={})
    seen = call(db, "get_booking", ALICE, booking_id=b["id"])
    code = call(db, "get_booking", STAFF, booking_id=b["id"])["checkin_code"]
    assert seen["check_in_opens_at"] == "2026-12-02T00:30:00Z"          # 08:30 Beijing time, 30 minutes before 09:00
    assert [x["check_in_opens_at"] for x in call(db, "list_bookings", ALICE, query={})] == [seen["check_in_opens_at"]]
    opens = dt.datetime(2026, 12, 2, 0, 30)
    clock["now"] = opens - dt.timedelta(seconds=1)
    with pytest.raises(Conflict):
        call(db, "check_in_booking", ALICE, booking_id=b["id"], payload={"code": code})
    clock["now"] = opens
    assert call(db, "check_in_booking", ALICE, booking_id=b["id"], payload={"code": code})["status"] == "checked_in"


def test_the_full_lifecycle_with_fee_and_voucher(db, instrument, clock):
    b = book(db, instrument_id=instrument["id"], start=9, end=11)
    assert b["status"] == "requested" and b["approval_due_at"]
    with pytest.raises(Conflict) as exc:      # held by the pending request
        book(db, BOB, instrument_id=instrument["id"], start=10, end=11)
    assert exc.value.code == "slot_taken" and exc.value.errors["rules"][0]["rule"] == "slot.held"
    with pytest.raises(Forbidden):
        call(db, "approve_booking", OTHER_STAFF, booking_id=b["id"], payload={})
    assert call(db, "approve_booking", STAFF, booking_id=b["id"], payload={})["status"] == "confirmed"
    staff_view = call(db, "get_booking", STAFF, booking_id=b["id"])
    assert call(db, "get_booking", ALICE, booking_id=b["id"])["checkin_code"] is None
    clock["now"] = dt.datetime(2026, 12, 2, 0, 55)   # 08:55 local
    with pytest.raises(ValidationFailed):
        call(db, "check_in_booking", ALICE, booking_id=b["id"], payload={"code": "000000x"})
    out = call(db, "check_in_booking", ALICE, booking_id=b["id"], payload={"code": staff_view["checkin_code"]})
    assert out["status"] == "checked_in"
    clock["now"] = dt.datetime(2026, 12, 2, 3, 30)
    done = call(db, "complete_booking", STAFF, booking_id=b["id"],
                payload={"actual_start": local(2026, 12, 2, 9, 5), "actual_end": local(2026, 12, 2, 10, 15)})
    assert done["status"] == "completed" and done["fee"] == "300.00"    # 70 min -> 90 min at 200/h
    completed = events(db, "booking.completed")[0]["data"]
    assert completed["evaluation"]["service_type"] == "booking" and completed["evaluation"]["enterprise_id"] == ALICE["user_id"]
    with pytest.raises(ValidationFailed):
        call(db, "settle_booking", STAFF, booking_id=b["id"], payload={"payment_source": "innovation_voucher",
                                                                      "amount": "300.00"})
    with pytest.raises(ValidationFailed):
        call(db, "settle_booking", STAFF, booking_id=b["id"], payload={"payment_source": "transfer",
                                                                      "amount": "299.00"})
    paid = call(db, "settle_booking", STAFF, booking_id=b["id"],
                payload={"payment_source": "innovation_voucher", "amount": "300.00", "voucher_number": "CXQ-2026-0001"})
    assert paid["status"] == "settled" and paid["voucher_number"] == "CXQ-2026-0001"
    assert [e["type"] for e in events(db) if e["type"].startswith("booking.")] == [
        "booking.requested", "booking.approved", "booking.checked_in", "booking.completed"]


def test_expiry_releases_the_held_slot(db, instrument, clock):
    b = book(db, instrument_id=instrument["id"])
    clock["now"] = dt.datetime(2026, 12, 3, 1, 0)
    with db.transaction() as s:
        assert bookings.expire_overdue_requests(s, clock["now"]) == 1
    assert call(db, "get_booking", ALICE, booking_id=b["id"])["status"] == "expired"
    assert count(db, SlotClaim) == 0
    assert events(db, "booking.rejected")[0]["data"]["reason_code"] == "approval_expired"


def test_cancellation_rules(db, instrument, clock):
    early = book(db, instrument_id=instrument["id"], day=4)
    call(db, "approve_booking", STAFF, booking_id=early["id"], payload={})
    assert call(db, "cancel_booking", ALICE, booking_id=early["id"], payload={})["fee"] == "0.00"
    late = book(db, instrument_id=instrument["id"], day=2)
    call(db, "approve_booking", STAFF, booking_id=late["id"], payload={})
    out = call(db, "cancel_booking", ALICE, booking_id=late["id"], payload={})
    assert out["fee"] == "200.00" and out["fee_reason"] == "late_cancellation"
    asked = book(db, BOB, instrument_id=instrument["id"], day=2)  # a request alone re-books nothing
    assert call(db, "get_booking", ALICE, booking_id=late["id"])["fee"] == "200.00"
    call(db, "reject_booking", STAFF, booking_id=asked["id"], payload={"reason_code": "other", "reason": "维护"})
    again = book(db, BOB, instrument_id=instrument["id"], day=2)
    call(db, "approve_booking", STAFF, booking_id=again["id"], payload={})   # re-booked: the late fee is waived
    assert call(db, "get_booking", ALICE, booking_id=late["id"])["fee"] == "0.00"
    third = book(db, instrument_id=instrument["id"], day=2, start=14, end=15)
    call(db, "approve_booking", STAFF, booking_id=third["id"], payload={})
    with pytest.raises(Forbidden):
        call(db, "cancel_booking", ALICE, booking_id=third["id"], payload={"fault": True})
    out = call(db, "cancel_booking", STAFF, booking_id=third["id"], payload={"fault": True})
    assert out["fee"] == "0.00" and out["cancelled_by"] == "fault"


def test_three_no_shows_in_90_days_suspend_booking(db, instrument, clock):
    for day in (2, 3, 4):
        b = book(db, instrument_id=instrument["id"], day=day)
        call(db, "approve_booking", STAFF, booking_id=b["id"], payload={})
    clock["now"] = dt.datetime(2026, 12, 4, 3, 0)
    with db.transaction() as s:
        assert bookings.mark_no_shows(s, clock["now"]) == 3
    with pytest.raises(ValidationFailed) as exc:
        book(db, instrument_id=instrument["id"], day=8)
    assert [r["rule"] for r in exc.value.errors["rules"]] == ["user.suspended"]
    assert len(events(db, "booking.no_show")) == 3
    call(db, "lift_suspension", OPERATOR, user_id=ALICE["user_id"])
    assert book(db, instrument_id=instrument["id"], day=8)["status"] == "requested"
    with db.transaction() as s:     # the appeal forgave those three: one more does not suspend again
        bookings.record_no_show(s, ALICE["user_id"], "appointment", "a-after-appeal", clock["now"])
    assert book(db, instrument_id=instrument["id"], day=9)["status"] == "requested"


def test_a_suspended_user_appeals_once_and_an_operator_decides(db, instrument, clock):
    from services.common.audit import AuditEntry
    for day in (2, 3, 4):
        b = book(db, instrument_id=instrument["id"], day=day)
        call(db, "approve_booking", STAFF, booking_id=b["id"], payload={})
    with pytest.raises(Conflict) as none_yet:
        call(db, "appeal_suspension", ALICE, payload={"reason": "系统故障未能签到"})
    assert none_yet.value.code == "no_active_suspension"
    clock["now"] = dt.datetime(2026, 12, 4, 3, 0)
    with db.transaction() as s:
        assert bookings.mark_no_shows(s, clock["now"]) == 3
    with pytest.raises(ValidationFailed):                     # too short a reason: nothing written
        call(db, "appeal_suspension", ALICE, payload={"reason": "x"})
    appealed = call(db, "appeal_suspension", ALICE, payload={"reason": "系统故障未能签到，附工单号"})
    assert appealed["state"] == "active" and appealed["appealed_at"] and appealed["decision"] is None
    with pytest.raises(Conflict):
        call(db, "appeal_suspension", ALICE, payload={"reason": "再次申诉一下可以吗"})
    assert call(db, "list_suspensions", BOB) == []            # others see only their own
    assert [x["id"] for x in call(db, "list_suspensions", OPERATOR, appealed=True)] == [appealed["id"]]
    with pytest.raises(NotFound):
        call(db, "decide_suspension_appeal", OPERATOR, suspension_id="no-such-suspension",
             payload={"decision": "lifted", "reason": "核实"})
    with pytest.raises(Forbidden):
        call(db, "decide_suspension_appeal", ALICE, suspension_id=appealed["id"],
             payload={"decision": "lifted", "reason": "自己批准"})
    decided = call(db, "decide_suspension_appeal", OPERATOR, suspension_id=appealed["id"],
                   payload={"decision": "lifted", "reason": "核实为系统故障"})
    assert decided["state"] == "lifted" and decided["decision"] == "lifted"
    assert book(db, instrument_id=instrument["id"], day=8)["status"] == "requested"
    with pytest.raises(Conflict):
        call(db, "decide_suspension_appeal", OPERATOR, suspension_id=appealed["id"],
             payload={"decision": "upheld", "reason": "改判"})
    with db.read() as s:
        actions = set(s.scalars(select(AuditEntry.action).where(AuditEntry.target_id == appealed["id"])))
    assert actions == {"suspension.appeal", "suspension.appeal_lifted"}


def test_no_shows_older_than_90_days_do_not_count_and_a_suspension_lasts_30_days(db):
    from services.booking.models import Suspension
    user, start = "ent-window", dt.datetime(2026, 1, 5, 2, 0)
    with db.transaction() as s:                 # the third is 91 days after the first: only two count
        bookings.record_no_show(s, user, "booking", "b-1", start)
        bookings.record_no_show(s, user, "appointment", "a-1", start + dt.timedelta(days=60))
        bookings.record_no_show(s, user, "booking", "b-2", start + dt.timedelta(days=91))
    assert count(db, Suspension) == 0
    third = start + dt.timedelta(days=92)       # three within 90 days, an appointment among them
    with db.transaction() as s:
        bookings.record_no_show(s, user, "appointment", "a-2", third)
    with db.read() as s:
        [row] = s.scalars(select(Suspension)).all()
        assert row.user_id == user and row.until - row.starts_at == dt.timedelta(days=30) and row.no_shows == 3
        assert bookings.instruments.suspended_until(s, user, third + dt.timedelta(days=29)) is not None
        assert bookings.instruments.suspended_until(s, user, third + dt.timedelta(days=30, minutes=1)) is None


def test_an_institution_cancelling_late_is_never_charged(db, instrument, clock):
    late = book(db, instrument_id=instrument["id"], day=2)
    call(db, "approve_booking", STAFF, booking_id=late["id"], payload={})
    out = call(db, "cancel_booking", STAFF, booking_id=late["id"], payload={"reason": "operator ill"})
    assert out["fee"] == "0.00" and out["cancelled_by"] == "institution"
    assert out["fee_reason"] == "not_charged_institution_or_fault"


def test_deregistration_withdraws_instruments_at_once(db, instrument, clock):
    b = book(db, instrument_id=instrument["id"])
    apply(db, deregistered())
    assert call(db, "get_instrument", instrument_id=instrument["id"])["status"] == "withdrawn"
    assert call(db, "get_booking", ALICE, booking_id=b["id"])["status"] == "cancelled"
    assert call(db, "list_instruments", query={})["total"] == 0
    assert events(db, "instrument.withdrawn")[0]["data"]["reason"]
    assert apply(db, approved(revision=1)) in ("stale", "duplicate")


def test_bad_input_writes_nothing(db, instrument):
    before = len(events(db))
    for payload in ({"instrument_id": instrument["id"], "starts_at": "tomorrow", "ends_at": local(2026, 12, 2, 10)},
                    {"instrument_id": instrument["id"], "starts_at": local(2026, 12, 2, 10),
                     "ends_at": local(2026, 12, 2, 9)},
                    {"instrument_id": instrument["id"], "starts_at": local(2026, 12, 2, 9),
                     "ends_at": local(2026, 12, 2, 10), "price_group": "internal"},
                    {"instrument_id": instrument["id"], "starts_at": local(2026, 12, 2, 9),
                     "ends_at": local(2026, 12, 2, 10), "extra": 1}):
        with pytest.raises(ValidationFailed):
            call(db, "request_booking", ALICE, payload=payload)
    assert count(db, Booking) == 0 and len(events(db)) == before


def test_usage_and_metrics_after_a_completed_booking(db, instrument, clock):
    from services.booking.metrics import BookingCollector
    b = book(db, instrument_id=instrument["id"], start=9, end=11)
    call(db, "approve_booking", STAFF, booking_id=b["id"], payload={})
    clock["now"] = dt.datetime(2026, 12, 2, 1, 0)
    call(db, "check_in_booking", STAFF, booking_id=b["id"], payload={})
    clock["now"] = dt.datetime(2026, 12, 2, 3, 30)
    call(db, "complete_booking", STAFF, booking_id=b["id"],
         payload={"actual_start": local(2026, 12, 2, 9), "actual_end": local(2026, 12, 2, 10, 30)})
    usage = call(db, "instrument_usage", STAFF, instrument_id=instrument["id"], query={"month": "2026-12"})
    assert (usage["booked_minutes"], usage["used_minutes"], usage["revenue"]) == (120, 90, "300.00")
    with pytest.raises(Forbidden):
        call(db, "instrument_usage", OTHER_STAFF, instrument_id=instrument["id"], query={"month": "2026-12"})
    with pytest.raises(ValidationFailed):
        call(db, "instrument_usage", STAFF, instrument_id=instrument["id"], query={"month": "2026-13"})
    families = {m.name: {tuple(s.labels.values()): s.value for s in m.samples} for m in BookingCollector(db).collect()}
    assert families["qi_booking_bookings"][("completed",)] == 1
    assert families["qi_booking_approvals"] == {("within_rule",): 1, ("late",): 0, ("expired",): 0}
    assert families["qi_booking_instrument_minutes"] == {("booked",): 120, ("used",): 90, ("walk_in",): 0}
    assert families["qi_booking_utilisation_ratio"] == {(): 0.75}


def test_linked_capabilities_are_the_institutions_own(db, clock):
    apply(db, approved())                                   # publishes capability "c1"
    out = call(db, "publish_instrument", STAFF, payload={**instrument_payload(), "capability_ids": ["c1"]})
    assert out["capability_ids"] == ["c1"]
    with pytest.raises(ValidationFailed) as exc:
        call(db, "publish_instrument", STAFF, payload={**instrument_payload(), "capability_ids": ["c1", "zz"]})
    assert "capability_ids" in exc.value.errors
    assert count(db, Instrument) == 1


def test_approvals_are_counted_against_their_rule(db, instrument, clock):
    from services.booking.metrics import BookingCollector
    on_time = book(db, instrument_id=instrument["id"], day=8, start=9, end=10)
    late = book(db, instrument_id=instrument["id"], day=8, start=13, end=14)
    call(db, "approve_booking", STAFF, booking_id=on_time["id"], payload={})
    with db.read() as s:
        due = s.get(Booking, late["id"]).approval_due_at
    clock["now"] = due + dt.timedelta(minutes=1)            # decided after the booking.approval limit
    call(db, "approve_booking", STAFF, booking_id=late["id"], payload={})
    families = {m.name: {tuple(s.labels.values()): s.value for s in m.samples} for m in BookingCollector(db).collect()}
    assert families["qi_booking_approvals"] == {("within_rule",): 1, ("late",): 1, ("expired",): 0}
