"""Weekly series (preview with conflicts, booking skips them), the waitlist (offer held 2 hours, then
the next in line), iCalendar feeds (nothing before approval, CANCELLED, SEQUENCE, revocable), and the
qualification gate (staff-granted, with expiry; operator-assisted fallback)."""
from __future__ import annotations

import datetime as dt

import pytest
from icalendar import Calendar

from services.booking import waitlist
from services.booking.tests.helpers import (ALICE, BOB, NOW, STAFF, apply, approved, call, events, instrument_payload,
                                            local, new_key)
from services.common.errors import Conflict, NotFound, ValidationFailed

CAROL = {"user_id": "ent-carol", "role": "enterprise"}


@pytest.fixture
def instrument(db, clock):
    apply(db, approved())
    return call(db, "publish_instrument", STAFF, payload=instrument_payload(horizon_working_days=30))


def body(instrument, day, start=9, end=10, month=12, **extra):
    return {"instrument_id": instrument["id"], "starts_at": local(2026, month, day, start),
            "ends_at": local(2026, month, day, end), **extra}


def test_series_preview_names_each_conflict_and_booking_skips_them(db, instrument):
    call(db, "request_booking", BOB, payload=body(instrument, 9))          # Wednesday 9 Dec taken
    call(db, "add_blackout", STAFF, instrument_id=instrument["id"], payload={
        "kind": "calibration", "starts_at": local(2026, 12, 16, 8), "ends_at": local(2026, 12, 16, 18),
        "reason": "年度校准"})
    preview = call(db, "preview_booking_series", ALICE, payload={**body(instrument, 2), "weeks": 4})
    rules = [[r["rule"] for r in o["rules"]] for o in preview["occurrences"]]
    assert rules == [[], ["slot.held"], ["blackout"], []] and preview["bookable"] == 2
    booked = call(db, "book_booking_series", ALICE, payload={**body(instrument, 2), "weeks": 4},
                  idempotency_key=new_key())
    ids = [o.get("booking_id") for o in booked["occurrences"]]
    assert ids[0] and ids[3] and not ids[1] and not ids[2]
    call(db, "cancel_booking", ALICE, booking_id=ids[3], payload={})        # each occurrence on its own
    assert call(db, "get_booking", ALICE, booking_id=ids[0])["status"] == "requested"
    with pytest.raises(ValidationFailed):
        call(db, "preview_booking_series", ALICE, payload={**body(instrument, 2), "weeks": 40})


def test_waitlist_offers_to_the_first_then_the_next(db, instrument, clock):
    taken = call(db, "request_booking", BOB, payload=body(instrument, 3))
    with pytest.raises(Conflict) as exc:
        call(db, "join_waitlist", ALICE, payload=body(instrument, 4))
    assert exc.value.code == "slot_is_free"
    first = call(db, "join_waitlist", ALICE, payload=body(instrument, 3))
    second = call(db, "join_waitlist", CAROL, payload=body(instrument, 3))
    assert first["status"] == second["status"] == "waiting"
    call(db, "cancel_booking", BOB, booking_id=taken["id"], payload={})
    mine = call(db, "list_waitlist", ALICE)[0]
    assert mine["status"] == "offered" and mine["offer_expires_at"] == "2026-12-01T04:00:00Z"   # held 2 hours
    with pytest.raises(Conflict) as exc:                                   # others see it held
        call(db, "request_booking", CAROL, payload=body(instrument, 3))
    assert exc.value.errors["rules"][0]["rule"] == "slot.held"
    [told] = call(db, "list_booking_notifications", ALICE, query={})
    assert told["kind"] == "waitlist.offered" and told["subject_id"] == first["id"] and not told["read"]
    assert call(db, "list_booking_notifications", CAROL, query={}) == []
    offered = events(db, "waitlist.offered")
    assert [e["data"]["entry_id"] for e in offered] == [first["id"]]
    assert set(offered[0]["data"]) == {"entry_id", "instrument_id", "starts_at", "ends_at", "offer_expires_at"}
    assert call(db, "read_booking_notification", ALICE, notification_id=told["id"])["read"] is True
    with pytest.raises(NotFound):
        call(db, "read_booking_notification", CAROL, notification_id=told["id"])
    clock["now"] = NOW + dt.timedelta(hours=3)
    with db.transaction() as s:
        assert waitlist.lapse_offers(s, clock["now"]) == 1
    assert call(db, "list_waitlist", CAROL)[0]["status"] == "offered"
    assert [n["kind"] for n in call(db, "list_booking_notifications", ALICE, query={"unread": True})] == \
        ["waitlist.lapsed"]
    assert [n["kind"] for n in call(db, "list_booking_notifications", CAROL, query={})] == ["waitlist.offered"]
    [lapsed] = events(db, "waitlist.offer_lapsed")
    assert lapsed["data"]["entry_id"] == first["id"] and lapsed["data"]["next_entry_id"] == second["id"]
    out = call(db, "accept_waitlist_offer", CAROL, entry_id=second["id"])
    assert out["status"] == "requested" and call(db, "list_waitlist", CAROL)[0]["booking_id"] == out["id"]
    with pytest.raises(NotFound):
        call(db, "accept_waitlist_offer", ALICE, entry_id=second["id"])


def test_calendar_feed_shows_approved_and_cancelled_with_sequence(db, instrument):
    feed = call(db, "create_calendar_feed", ALICE, payload={"kind": "user"})
    pending = call(db, "request_booking", ALICE, payload=body(instrument, 2))
    assert not Calendar.from_ical(call(db, "calendar_feed", token=feed["token"])).walk("VEVENT")
    call(db, "approve_booking", STAFF, booking_id=pending["id"], payload={})
    [event] = Calendar.from_ical(call(db, "calendar_feed", token=feed["token"])).walk("VEVENT")
    assert str(event["STATUS"]) == "CONFIRMED" and int(event["SEQUENCE"]) == 1
    call(db, "cancel_booking", ALICE, booking_id=pending["id"], payload={})
    [event] = Calendar.from_ical(call(db, "calendar_feed", token=feed["token"])).walk("VEVENT")
    assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) == 2
    never_approved = call(db, "request_booking", ALICE, payload=body(instrument, 3))
    call(db, "cancel_booking", ALICE, booking_id=never_approved["id"], payload={})
    assert len(Calendar.from_ical(call(db, "calendar_feed", token=feed["token"])).walk("VEVENT")) == 1
    with pytest.raises(Exception):
        call(db, "create_calendar_feed", ALICE, payload={"kind": "instrument", "instrument_id": instrument["id"]})
    staff_feed = call(db, "create_calendar_feed", STAFF, payload={"kind": "instrument",
                                                                  "instrument_id": instrument["id"]})
    assert Calendar.from_ical(call(db, "calendar_feed", token=staff_feed["token"])).walk("VEVENT")
    call(db, "revoke_calendar_feed", ALICE, token=feed["token"])
    with pytest.raises(NotFound):
        call(db, "calendar_feed", token=feed["token"])


def test_qualification_gate_with_assisted_fallback(db, clock):
    apply(db, approved())
    inst = call(db, "publish_instrument", STAFF, payload=instrument_payload(qualification_required=True))
    with pytest.raises(ValidationFailed) as exc:
        call(db, "request_booking", ALICE, payload=body(inst, 2))
    assert [r["rule"] for r in exc.value.errors["rules"]] == ["qualification.missing"]
    assert call(db, "request_booking", ALICE, payload=body(inst, 2, mode="assisted"))["mode"] == "assisted"
    call(db, "grant_qualification", STAFF, instrument_id=inst["id"], payload={"user_id": BOB["user_id"], "months": 6})
    assert call(db, "request_booking", BOB, payload=body(inst, 3))["status"] == "requested"
    clock["now"] = NOW + dt.timedelta(days=200)                  # expired (6 months fixed)
    assert [q["state"] for q in call(db, "my_qualifications", BOB)] == ["expired"]

