"""Window appointments (4.2.2.3): slots inside working hours, 1..10 working days ahead, capacity,
one active per enterprise per window per day, cancel up to 2 hours before, check-in, completion
(with the evaluation block) and no-shows."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from services.booking import appointments
from services.booking.models import Appointment, AppointmentSlot
from services.booking.tests.helpers import (ALICE, BOB, OPERATOR, WINDOW, apply_link, call, case_event,
                                            demand_event, events, new_key, window_services)
from services.common.errors import Conflict, Forbidden, ValidationFailed


@pytest.fixture(autouse=True)
def known(db):
    """The window's items and Alice's demand, as the registry and matching published them."""
    apply_link(db, window_services())
    apply_link(db, demand_event("d-1", ALICE["user_id"]))


def publish(db, date="2026-12-03", times=("09:00", "10:00"), capacity=2, who=WINDOW, **extra):
    return call(db, "publish_appointment_slots", who, payload={"date": date, "times": list(times), "capacity": capacity,
                                                               "service_items": ["tst.matching"], **extra})


def test_publishing_slots(db, clock):
    slots = publish(db)
    assert [s["free"] for s in slots] == [2, 2] and slots[0]["window_id"] == "demo-window-1"
    for bad in ({"date": "2026-12-05"}, {"times": ["07:00"]}, {"minutes": 90}):
        with pytest.raises(ValidationFailed):
            publish(db, **{"date": "2026-12-04", **bad})
    with pytest.raises(Forbidden):
        publish(db, who={**WINDOW, "window_id": "ps-hlgy"}, window_id="demo-window-1", date="2026-12-04")
    with pytest.raises(Conflict):
        publish(db)
    with pytest.raises(ValidationFailed):
        publish(db, who=OPERATOR, date="2026-12-04")      # operators name the window


def test_booking_rules_capacity_and_one_per_day(db, clock):
    nine, ten = publish(db, capacity=1)
    far = publish(db, date="2026-12-17", times=("09:00",))[0]
    today = publish(db, date="2026-12-01", times=("15:00",))[0]
    for slot, rule in ((far, "horizon.too_far"), (today, "notice.too_short")):
        with pytest.raises(ValidationFailed) as exc:
            call(db, "book_appointment", ALICE, payload={"slot_id": slot["id"], "service_item": "tst.matching"})
        assert [r["rule"] for r in exc.value.errors["rules"]] == [rule]
    with pytest.raises(ValidationFailed):
        call(db, "book_appointment", ALICE, payload={"slot_id": nine["id"], "service_item": "ip.filing"})
    a = call(db, "book_appointment", ALICE, payload={"slot_id": nine["id"], "service_item": "tst.matching",
                                                     "demand_id": "d-1"}, idempotency_key=new_key())
    assert a["status"] == "booked" and a["demand_id"] == "d-1"
    with pytest.raises(Conflict) as exc:
        call(db, "book_appointment", BOB, payload={"slot_id": nine["id"], "service_item": "tst.matching"})
    assert exc.value.code == "appointment_full"
    with pytest.raises(Conflict) as exc:
        call(db, "book_appointment", ALICE, payload={"slot_id": ten["id"], "service_item": "tst.matching"})
    assert exc.value.code == "appointment_one_per_day"
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Appointment)) == 1
        assert s.get(AppointmentSlot, ten["id"]).taken == 0      # the refused one left nothing behind
    assert call(db, "cancel_appointment", ALICE, appointment_id=a["id"])["status"] == "cancelled"
    assert call(db, "book_appointment", ALICE, payload={"slot_id": ten["id"], "service_item": "tst.matching"})


def test_cancel_deadline_check_in_complete_and_no_show(db, clock):
    nine, ten = publish(db)
    a = call(db, "book_appointment", ALICE, payload={"slot_id": nine["id"], "service_item": "tst.matching"})
    call(db, "book_appointment", BOB, payload={"slot_id": nine["id"], "service_item": "tst.matching"})   # no-show
    clock["now"] = dt.datetime(2026, 12, 3, 0, 30)          # 08:30 local: less than 2 hours before 09:00
    with pytest.raises(Conflict) as exc:
        call(db, "cancel_appointment", ALICE, appointment_id=a["id"])
    assert exc.value.code == "appointment_too_late"
    with pytest.raises(Forbidden):
        call(db, "check_in_appointment", {**WINDOW, "window_id": "ps-hlgy"}, appointment_id=a["id"])
    call(db, "check_in_appointment", WINDOW, appointment_id=a["id"])
    done = call(db, "complete_appointment", WINDOW, appointment_id=a["id"])
    assert done["status"] == "completed"
    evaluation = events(db, "appointment.completed")[0]["data"]["evaluation"]
    assert evaluation == {**evaluation, "service_type": "appointment", "service_id": a["id"],
                          "enterprise_id": ALICE["user_id"], "window_id": "demo-window-1",
                          "handler_id": WINDOW["user_id"], "institution_id": None}
    with db.transaction() as s:
        assert appointments.mark_no_shows(s, dt.datetime(2026, 12, 3, 1, 20)) == 1
    assert call(db, "list_appointments", BOB, query={})[0]["status"] == "no_show"
    assert len(events(db, "appointment.no_show")) == 1



def test_slots_offer_only_the_windows_items_and_links_must_be_the_enterprises_own(db, clock):
    with pytest.raises(ValidationFailed) as exc:
        publish(db, service_items=["tst.matching", "ip.filing"])
    assert exc.value.code == "item_not_served" and "ip.filing" in exc.value.errors["service_items"][0]
    with pytest.raises(Conflict) as exc:
        publish(db, who={**WINDOW, "window_id": "ps-unknown"})
    assert exc.value.code == "window_not_known"
    assert apply_link(db, window_services(services=["tst.matching", "ip.filing"])) == "window"
    nine, _ = publish(db, service_items=["tst.matching", "ip.filing"])
    apply_link(db, case_event("c-1", BOB["user_id"]))
    apply_link(db, demand_event("d-2", ALICE["user_id"]))
    apply_link(db, demand_event("d-2", ALICE["user_id"], closed=True))
    for link, field in (({"demand_id": "d-404"}, "demand_id"), ({"case_id": "c-1"}, "case_id"),
                        ({"demand_id": "d-2"}, "demand_id")):                 # unknown, Bob's, closed
        with pytest.raises(ValidationFailed) as exc:
            call(db, "book_appointment", ALICE, payload={"slot_id": nine["id"], "service_item": "ip.filing", **link})
        assert exc.value.code == "link_not_yours" and field in exc.value.errors
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Appointment)) == 0
    envelope = case_event("c-2", ALICE["user_id"])
    assert apply_link(db, envelope) == "case" and apply_link(db, envelope) == "duplicate"
    a = call(db, "book_appointment", ALICE, payload={"slot_id": nine["id"], "service_item": "ip.filing",
                                                     "case_id": "c-2"})
    assert a["case_id"] == "c-2"


def test_the_windows_list_from_a_day_on_comes_soonest_first(db, clock):
    third = publish(db, date="2026-12-03", times=("09:00",))[0]
    fourth = publish(db, date="2026-12-04", times=("09:00",))[0]
    early = call(db, "book_appointment", ALICE, payload={"slot_id": third["id"], "service_item": "tst.matching"})
    late = call(db, "book_appointment", BOB, payload={"slot_id": fourth["id"], "service_item": "tst.matching"})

    def ids(**query):
        return [a["id"] for a in call(db, "list_appointments", WINDOW, query=query)]
    # With many days ahead booked, a limit cut the soonest (today's) first: from a day on, they come first.
    assert ids(limit=1) == [late["id"]]                                  # one's history: the latest first
    assert ids(**{"from": "2026-12-03", "limit": 1}) == [early["id"]]
    assert ids(**{"from": "2026-12-04"}) == [late["id"]]
    assert ids(to="2026-12-03") == [early["id"]]
    with pytest.raises(ValidationFailed):
        call(db, "list_appointments", WINDOW, query={"from": "3 Dec"})
    for name, query in (("list_appointments", {}), ("list_appointment_slots", {"window_id": "demo-window-1"})):
        with pytest.raises(ValidationFailed) as backwards:   # told, not an empty list that reads "none booked"
            call(db, name, WINDOW, query={**query, "from": "2026-12-04", "to": "2026-12-03"})
        assert "to" in backwards.value.errors, backwards.value.errors
    # The slots' list takes the same days.
    slots = [[x["id"] for x in call(db, "list_appointment_slots", query={"window_id": "demo-window-1", **days})]
             for days in ({"from": "2026-12-04"}, {"to": "2026-12-03"})]
    assert slots == [[fourth["id"]], [third["id"]]]
