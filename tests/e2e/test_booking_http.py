"""Booking end to end through the gateway (HTTP): publish an instrument, read its availability,
book, race for one slot (exactly one 201, the other 409 naming the rule), approve, check in,
complete with actual times and read the fee; bad input is a 4xx problem+json that writes nothing."""
from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest

from services.booking import demo
from services.common import workdays
from services.common.testing import sign_access_token

pytestmark = pytest.mark.e2e
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
INSTITUTION = demo.institution_id(0)      # the registry demo's 泰州市产品质量监督检验所


def tok(platform, user_id, role, **claims):
    return sign_access_token({"sub": user_id, "role": role, "sid": f"sid-{uuid.uuid4().hex[:8]}", **claims},
                             private_key_file=platform.private_key_file)


def problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    return response.json()


def instrument_body(**rules):
    all_day = {str(d): [["00:00", "24:00"]] for d in range(1, 8)}
    return {"name": f"E2E 万能试验机 {uuid.uuid4().hex[:4]}", "category": "testing", "model": "WDW-50",
            "maker": "济南试金", "standards": ["GB/T 228.1-2021"], "park": "海陵工业园区",
            "station_window_id": "ps-hlgy",
            "rules": {"notice_working_days": 0, "horizon_working_days": 5, "slot_minutes": 15, "min_minutes": 30,
                      "max_minutes": 240, "approval_required": True, "opening_hours": all_day,
                      "minimum_charge": "80.00", **rules},
            "prices": [{"price_group": "enterprise", "hourly_rate": "120.00"}]}


def test_publish_availability_book_race_approve_complete_fee(platform, api):
    staff = tok(platform, "e2e-inst-staff", "institution", institution_id=INSTITUTION)
    alice, bob = tok(platform, "e2e-alice", "enterprise"), tok(platform, "e2e-bob", "enterprise")

    listed = api.get("/api/v1/instruments?limit=200")
    assert listed.status_code == 200 and listed.json()["total"] >= 20          # the demo's
    bad = api.post("/api/v1/instruments", token=staff, json={**instrument_body(), "category": "cooking"})
    assert "category" in problem(bad, 422)["errors"]
    assert api.post("/api/v1/instruments", token=alice, json=instrument_body()).status_code == 403
    created = api.post("/api/v1/instruments", token=staff, json=instrument_body(),
                       headers={"Idempotency-Key": str(uuid.uuid4())})
    assert created.status_code == 201, created.text
    instrument = created.json()
    assert instrument["institution_name"] == "泰州市产品质量监督检验所"

    now = dt.datetime.now(SHANGHAI)
    if not workdays.is_working_day(now.date()):
        pytest.skip("today is not a working day: the instrument is closed, as it should be")
    start = (now + dt.timedelta(minutes=30)).replace(second=0, microsecond=0)
    start -= dt.timedelta(minutes=start.minute % 15)
    end = start + dt.timedelta(minutes=60)
    if end.date() != now.date():   # a slot tomorrow has no past slots today to judge (23:30 on)
        pytest.skip("too close to midnight for a same-day slot")
    av = api.get(f"/api/v1/instruments/{instrument['id']}/availability?from={start.date()}&to={start.date()}")
    assert av.status_code == 200, av.text
    by_start = {s["start_local"][:16]: s for s in av.json()["slots"]}
    assert by_start[start.isoformat()[:16]]["state"] == "free"
    past = [s for s in av.json()["slots"] if s["state"] == "closed"]
    assert past and "time.past" in {r["rule"] for r in past[0]["rules"]}
    assert problem(api.get(f"/api/v1/instruments/{instrument['id']}/availability?from=x&to=y"), 422)

    body = {"instrument_id": instrument["id"], "starts_at": start.isoformat(), "ends_at": end.isoformat()}
    refused = problem(api.post("/api/v1/bookings", token=alice, json={**body, "ends_at": start.isoformat()}), 422)
    assert refused["code"] == "validation_error"
    rules = problem(api.post("/api/v1/bookings", token=alice, json={**body, "ends_at": (start + dt.timedelta(
        minutes=300)).isoformat()}), 422)
    assert "duration.too_long" in {r["rule"] for r in rules["errors"]["rules"]}
    assert api.get("/api/v1/bookings", token=alice).json() == []                # nothing was written

    results = []
    barrier = threading.Barrier(2)

    def attempt(token):
        barrier.wait()
        results.append(api.post("/api/v1/bookings", token=token, json=body,
                                headers={"Idempotency-Key": str(uuid.uuid4())}))
    threads = [threading.Thread(target=attempt, args=(t,)) for t in (alice, bob)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(r.status_code for r in results) == [201, 409], [r.text for r in results]
    loser = problem(next(r for r in results if r.status_code == 409), 409)
    assert loser["code"] == "slot_taken" and {r["rule"] for r in loser["errors"]["rules"]} <= {"slot.booked",
                                                                                                 "slot.held"}
    booking = next(r for r in results if r.status_code == 201).json()
    assert booking["status"] == "requested"

    operator = api.login("operator1")            # a real session: the gateway checks it on its own routes
    clocks = api.get("/api/v1/sla/clocks", token=operator)
    assert clocks.status_code == 200, clocks.text
    assert any(c["rule"] == "booking.approval" and c["subject_id"] == booking["id"] for c in clocks.json())

    approved = api.post(f"/api/v1/bookings/{booking['id']}/approve", token=staff, json={})
    assert approved.status_code == 200 and approved.json()["status"] == "confirmed", approved.text
    checked = api.post(f"/api/v1/bookings/{booking['id']}/check-in", token=staff, json={})
    assert checked.status_code == 200 and checked.json()["status"] == "checked_in", checked.text
    used_from = dt.datetime.now(SHANGHAI) - dt.timedelta(minutes=50)
    done = api.post(f"/api/v1/bookings/{booking['id']}/complete", token=staff,
                    json={"actual_start": used_from.isoformat(),
                          "actual_end": (used_from + dt.timedelta(minutes=50)).isoformat()})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed" and done.json()["fee"] == "120.00"   # 50 min -> 60 min at 120/h
    settled = api.post(f"/api/v1/bookings/{booking['id']}/settle", token=staff,
                       json={"payment_source": "innovation_voucher", "amount": "120.00",
                             "voucher_number": "TZCXQ-2026-E2E01"})
    assert settled.status_code == 200 and settled.json()["status"] == "settled", settled.text

    feed = api.post("/api/v1/calendar-feeds", token=alice if booking["user_id"] == "e2e-alice" else bob,
                    json={"kind": "user"})
    assert feed.status_code == 201, feed.text
    ics = api.get(feed.json()["url"])
    assert ics.status_code == 200 and ics.headers["Content-Type"].startswith("text/calendar")
    assert "BEGIN:VEVENT" in ics.text and f"booking-{booking['id']}@qi-one-stop" in ics.text
    assert problem(api.get("/api/v1/calendar-feeds/" + "x" * 43), 404)["code"] == "feed_not_found"

    slots = api.get("/api/v1/appointment-slots?window_id=ps-hlgy")
    assert slots.status_code == 200 and slots.json(), slots.text              # the demo's next 10 working days


def test_usage_start_stop_walk_in_and_the_users_lists(platform, api):
    """Actual use through HTTP: a walk-in flagged unbooked, use on a booking that completes it from the
    stop time (fee from actual use); bad input is a 4xx problem+json that writes nothing."""
    staff = tok(platform, "e2e-usage-staff", "institution", institution_id=INSTITUTION)
    carol = tok(platform, "e2e-carol", "enterprise")
    now = dt.datetime.now(SHANGHAI)
    if not workdays.is_working_day(now.date()):
        pytest.skip("today is not a working day: the instrument is closed, as it should be")
    start = (now + dt.timedelta(minutes=30)).replace(second=0, microsecond=0)
    start -= dt.timedelta(minutes=start.minute % 15)
    end = start + dt.timedelta(minutes=60)
    if (now - dt.timedelta(minutes=30)).date() != end.date():
        pytest.skip("too close to midnight for a same-day slot")
    instrument = api.post("/api/v1/instruments", token=staff, json=instrument_body(approval_required=False)).json()
    base = f"/api/v1/instruments/{instrument['id']}"

    walk_from = now - dt.timedelta(minutes=25)                   # before the booking's check-in window
    assert problem(api.post(f"{base}/usage-records", token=carol, json={}), 403)
    assert "at" in problem(api.post(f"{base}/usage-records", token=staff, json={"at": "soon"}), 422)["errors"]
    assert api.get(f"{base}/usage-records", token=staff).json() == []          # nothing was written
    walk = api.post(f"{base}/usage-records", token=staff, json={"at": walk_from.isoformat(), "note": "现场"})
    assert walk.status_code == 201 and walk.json()["reconciliation"] == "unbooked", walk.text
    stopped = api.post(f"/api/v1/usage-records/{walk.json()['id']}/stop", token=staff,
                       json={"at": (walk_from + dt.timedelta(minutes=5)).isoformat()})
    assert stopped.status_code == 200 and stopped.json()["used_minutes"] == 5, stopped.text
    flagged = api.get(f"{base}/usage-records?unbooked=true", token=staff).json()
    assert [r["id"] for r in flagged] == [walk.json()["id"]]

    booking = api.post("/api/v1/bookings", token=carol, json={
        "instrument_id": instrument["id"], "starts_at": start.isoformat(), "ends_at": end.isoformat()}).json()
    assert booking["status"] == "confirmed"
    assert problem(api.post(f"/api/v1/bookings/{booking['id']}/usage/stop", token=staff, json={}),
                   409)["code"] == "usage_not_started"
    opens = start - dt.timedelta(minutes=30)
    began = api.post(f"/api/v1/bookings/{booking['id']}/usage/start", token=staff, json={"at": opens.isoformat()})
    assert began.status_code == 201 and began.json()["booking_id"] == booking["id"], began.text
    assert api.get(f"/api/v1/bookings/{booking['id']}", token=staff).json()["status"] == "checked_in"
    assert problem(api.post(f"/api/v1/bookings/{booking['id']}/usage/stop", token=staff,
                            json={"at": (opens - dt.timedelta(minutes=1)).isoformat()}), 422)
    # A terminal's clock a couple of minutes ahead is accepted (5 minutes' slack).
    done = api.post(f"/api/v1/bookings/{booking['id']}/usage/stop", token=staff,
                    json={"at": (dt.datetime.now(SHANGHAI) + dt.timedelta(minutes=2)).isoformat()})
    assert done.status_code == 200, done.text
    completed = api.get(f"/api/v1/bookings/{booking['id']}", token=staff).json()
    assert completed["status"] == "completed" and completed["fee_reason"] == "usage"
    assert completed["actual_start"] == began.json()["started_at"] and float(completed["fee"]) >= 80   # minimum

    assert api.get("/api/v1/booking-notifications", token=carol).status_code == 200
    assert problem(api.get("/api/v1/booking-notifications"), 401)
    assert api.get("/api/v1/booking-qualifications", token=carol).json() == []


def test_training_attendance_route_refuses_before_the_start_and_bad_input(platform, api):
    """The registry's attendance operation through the gateway: a training naming a qualification code;
    attendance only after the start (409) and for confirmed participants; bad bodies are 422."""
    operator = api.login("operator1")
    starts = (dt.datetime.now(SHANGHAI) + dt.timedelta(days=3)).replace(microsecond=0)
    created = api.post("/api/v1/trainings", token=operator, json={
        "category_code": "testing", "title": "ICP-MS 上机培训（E2E）", "starts_at": starts.isoformat(),
        "mode": "onsite", "venue": "泰州医药高新区服务站", "capacity": 10, "qualification_code": "icpms-operation"},
        headers={"Idempotency-Key": str(uuid.uuid4())})
    assert created.status_code == 201 and created.json()["qualification_code"] == "icpms-operation", created.text
    training = created.json()["training_id"]
    carol = tok(platform, "e2e-trainee", "enterprise")
    assert api.post(f"/api/v1/trainings/{training}/signups", token=carol).status_code == 201
    url = f"/api/v1/trainings/{training}/attendance"
    assert "user_ids" in problem(api.post(url, token=operator, json={"user_ids": []}), 422)["errors"]
    assert problem(api.post(url, token=carol, json={"user_ids": ["e2e-trainee"]}), 403)
    assert problem(api.post(url, token=operator, json={"user_ids": ["e2e-trainee"]}),
                   409)["code"] == "training_not_started"
    assert api.get(f"/api/v1/trainings/{training}").json()["attended"] == 0
