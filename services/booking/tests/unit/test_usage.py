"""Actual use through the API: start/stop on a booking (checks in, completes from the stop time, fee
from actual use, booking.completed unchanged for feedback), walk-in use linked to the booking covering
it or flagged unbooked, instrument hours (机时) booked against used; bad input writes nothing."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from services.booking.models import UsageRecord
from services.booking.tests.helpers import ALICE, STAFF, apply, approved, call, events, instrument_payload, local
from services.common.errors import Conflict, Forbidden, ValidationFailed


@pytest.fixture
def inst(db, clock):
    apply(db, approved())
    return call(db, "publish_instrument", STAFF, payload=instrument_payload(approval_required=False))


def shanghai(day, hh, mm=0):
    return dt.datetime(2026, 12, day, hh, mm) - dt.timedelta(hours=8)


def book(db, inst, day=2, start=9, end=10):
    return call(db, "request_booking", ALICE, payload={
        "instrument_id": inst["id"], "starts_at": local(2026, 12, day, start), "ends_at": local(2026, 12, day, end),
        "price_group": "enterprise"})


def records(db):
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(UsageRecord))


def test_start_and_stop_on_a_booking_complete_it_from_actual_use(db, inst, clock):
    b = book(db, inst)
    clock["now"] = shanghai(2, 9, 5)
    started = call(db, "start_booking_usage", STAFF, booking_id=b["id"], payload={})
    assert started["reconciliation"] == "booking" and started["stopped_at"] is None
    running = call(db, "get_booking", STAFF, booking_id=b["id"])
    assert running["status"] == "checked_in" and running["in_use"] and running["usage_record_id"] == started["id"]
    with pytest.raises(Conflict) as exc:
        call(db, "start_booking_usage", STAFF, booking_id=b["id"], payload={})
    assert exc.value.code == "usage_already_started"
    with pytest.raises(Conflict) as exc:
        call(db, "start_walk_in_usage", STAFF, instrument_id=inst["id"], payload={})
    assert exc.value.code == "instrument_in_use"
    clock["now"] = shanghai(2, 10, 30)
    with pytest.raises(ValidationFailed):                            # in the future
        call(db, "stop_booking_usage", STAFF, booking_id=b["id"], payload={"at": local(2026, 12, 2, 11)})
    with pytest.raises(Forbidden):
        call(db, "stop_booking_usage", ALICE, booking_id=b["id"], payload={})
    assert call(db, "get_booking", STAFF, booking_id=b["id"])["status"] == "checked_in"
    stopped = call(db, "stop_booking_usage", STAFF, booking_id=b["id"], payload={"at": local(2026, 12, 2, 10, 20)})
    assert stopped["used_minutes"] == 75
    done = call(db, "get_booking", STAFF, booking_id=b["id"])
    assert done["status"] == "completed" and done["actual_end"] == "2026-12-02T02:20:00Z" and not done["in_use"]
    assert done["fee"] == "300.00"                                   # 75 min on the 30-min grid: 90 min at 200/h
    completed = events(db, "booking.completed")[-1]["data"]
    assert {"starts_at", "ends_at", "used_minutes", "evaluation"} <= set(completed) and completed["used_minutes"] == 75
    month = call(db, "instrument_usage", STAFF, instrument_id=inst["id"], query={"month": "2026-12"})
    assert (month["booked_minutes"], month["used_minutes"], month["walk_in_minutes"]) == (60, 75, 0)
    with pytest.raises(Conflict):
        call(db, "stop_booking_usage", STAFF, booking_id=b["id"], payload={})


def test_walk_in_use_is_linked_to_a_covering_booking_or_flagged_unbooked(db, inst, clock):
    b = book(db, inst, day=3, start=9, end=10)
    clock["now"] = shanghai(3, 14, 0)                                # nothing booked at 14:00
    walk = call(db, "start_walk_in_usage", STAFF, instrument_id=inst["id"], payload={"note": "现场临时测试"})
    assert walk["reconciliation"] == "unbooked" and walk["booking_id"] is None
    clock["now"] = shanghai(3, 14, 40)
    assert call(db, "stop_usage_record", STAFF, record_id=walk["id"], payload={})["used_minutes"] == 40
    flagged = call(db, "list_usage_records", STAFF, instrument_id=inst["id"], query={"unbooked": True})
    assert [r["id"] for r in flagged] == [walk["id"]]
    clock["now"] = shanghai(4, 9, 0)
    b2 = book(db, inst, day=7, start=9, end=10)
    clock["now"] = shanghai(7, 9, 0)
    linked = call(db, "start_walk_in_usage", STAFF, instrument_id=inst["id"], payload={"user_id": ALICE["user_id"]})
    assert linked["booking_id"] == b2["id"] and linked["reconciliation"] == "booking"
    month = call(db, "instrument_usage", STAFF, instrument_id=inst["id"], query={"month": "2026-12"})
    assert month["walk_in_minutes"] == 40 and month["unbooked_records"] == 1
    assert b["status"] == "confirmed"


def test_bad_usage_input_writes_nothing(db, inst, clock):
    b = book(db, inst)
    with pytest.raises(ValidationFailed):                            # a day before the booking
        call(db, "start_booking_usage", STAFF, booking_id=b["id"], payload={})
    with pytest.raises(ValidationFailed):
        call(db, "start_walk_in_usage", STAFF, instrument_id=inst["id"], payload={"at": "yesterday"})
    with pytest.raises(ValidationFailed):
        call(db, "start_walk_in_usage", STAFF, instrument_id=inst["id"], payload={"at": local(2026, 12, 9, 9)})
    with pytest.raises(Forbidden):
        call(db, "start_walk_in_usage", ALICE, instrument_id=inst["id"], payload={})
    assert records(db) == 0 and call(db, "get_booking", STAFF, booking_id=b["id"])["status"] == "confirmed"


def test_a_booking_completed_by_hand_has_its_usage_record(db, inst, clock):
    b = book(db, inst)
    clock["now"] = shanghai(2, 9, 0)
    call(db, "check_in_booking", STAFF, booking_id=b["id"], payload={})
    clock["now"] = shanghai(2, 10, 0)
    call(db, "complete_booking", STAFF, booking_id=b["id"], payload={"actual_start": local(2026, 12, 2, 9),
                                                                    "actual_end": local(2026, 12, 2, 9, 50)})
    [row] = call(db, "list_usage_records", STAFF, instrument_id=inst["id"], query={"month": "2026-12"})
    assert row["booking_id"] == b["id"] and row["used_minutes"] == 50
