"""Clause 5 training: events per category, sign-ups within capacity, FIFO waiting list,
cancellation promotes the next in line, one sign-up per user per event."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.common.schemas import load
from services.registry import notifications, training
from services.registry.models import TrainingSignup
from services.registry.contract.schemas_training import TrainingIn

OPERATOR = {"user_id": "op-1", "role": "operator"}
NOW = dt.datetime(2026, 10, 12, 2, 0)


def _user(n, role="enterprise"):
    return {"user_id": f"user-{n}", "role": role}


def _event(db, capacity=2, category="metrology", starts="2026-11-03T09:00:00+08:00", **extra):
    body = {"category_code": category, "title": "计量器具管理台账培训", "starts_at": starts, "mode": "onsite",
            "venue": "泰州医药高新区服务站 3 楼培训室", "capacity": capacity, **extra}
    with db.transaction() as session:
        return training.create_event(session, OPERATOR, load(TrainingIn, body), at=NOW)


def _sign_up(db, principal, event_id, at=NOW):
    with db.transaction() as session:
        return training.sign_up(session, principal, event_id, at=at)


def _cancel(db, principal, event_id, at=NOW):
    with db.transaction() as session:
        return training.cancel(session, principal, event_id, at=at)


def test_only_operators_publish_and_the_event_must_make_sense(db):
    with db.transaction() as session, pytest.raises(Forbidden):
        training.create_event(session, {"user_id": "r", "role": "regulator"},
                              load(TrainingIn, {"category_code": "ip", "title": "x", "starts_at": "2026-11-03T09:00:00Z",
                                                "mode": "onsite", "venue": "v", "capacity": 5}), at=NOW)
    with pytest.raises(ValidationFailed) as info:
        load(TrainingIn, {"category_code": "ip", "title": "x", "starts_at": "2026-11-03T09:00:00", "mode": "online",
                          "capacity": 0})
    assert {"starts_at", "capacity"} <= set(info.value.errors)        # no offset; capacity < 1
    with pytest.raises(ValidationFailed) as info:
        load(TrainingIn, {"category_code": "ip", "title": "x", "starts_at": "2026-11-03T09:00:00Z", "mode": "online",
                          "capacity": 3})
    assert "online_url" in info.value.errors
    with pytest.raises(ValidationFailed) as info:
        _event(db, starts="2026-10-01T09:00:00+08:00")
    assert "starts_at" in info.value.errors
    with pytest.raises(ValidationFailed) as info:
        _event(db, item_code="ip.search")                            # an IP item under metrology
    assert "item_code" in info.value.errors


def test_capacity_waiting_list_fifo_promotion_and_idempotent_sign_up(db):
    event = _event(db, capacity=2)
    event_id = event["training_id"]
    assert event["seats_left"] == 2 and event["starts_local"] == "2026-11-03T09:00:00+08:00"
    out = [_sign_up(db, _user(n, "person" if n % 2 else "enterprise"), event_id) for n in range(1, 5)]
    assert [(o["status"], o["waitlist_position"]) for o in out] == [
        ("confirmed", None), ("confirmed", None), ("waitlisted", 1), ("waitlisted", 2)]
    # once per user per event: the second sign-up returns the place already held
    again = _sign_up(db, _user(1, "person"), event_id)
    assert again["already_signed_up"] and again["signup_id"] == out[0]["signup_id"]
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(TrainingSignup)) == 4
    with db.transaction() as session, pytest.raises(Forbidden):
        training.sign_up(session, {"user_id": "staff", "role": "institution"}, event_id, at=NOW)

    # a confirmed participant cancels: the first on the waiting list (user-3) moves up and is told
    cancelled = _cancel(db, _user(2), event_id)
    assert cancelled["status"] == "cancelled"
    with db.read() as session:
        assert training.my_signup(session, _user(3, "person"), event_id)["status"] == "confirmed"
        assert training.my_signup(session, _user(4), event_id)["waitlist_position"] == 1
        notes = notifications.notifications(session, _user(3, "person"))["items"]
    assert [n["kind"] for n in notes] == ["training.confirmed"]
    # cancelling twice changes nothing; signing up again means the back of the queue
    assert _cancel(db, _user(2), event_id)["status"] == "cancelled"
    back = _sign_up(db, _user(2), event_id)
    assert back["status"] == "waitlisted" and back["waitlist_position"] == 2 and not back["already_signed_up"]
    # a waiting sign-up that cancels frees no seat: nobody is promoted
    _cancel(db, _user(4), event_id)
    with db.read() as session:
        listing = training.list_signups(session, OPERATOR, event_id)
        assert training.get_event(session, None, event_id)["waitlisted"] == 1
        with pytest.raises(NotFound):
            training.my_signup(session, _user(99), event_id)
        with pytest.raises(Forbidden):
            training.list_signups(session, _user(1, "person"), event_id)
    assert [(s["user_id"], s["status"], s["waitlist_position"]) for s in listing["items"]] == [
        ("user-1", "confirmed", None), ("user-3", "confirmed", None), ("user-2", "waitlisted", 1),
        ("user-4", "cancelled", None)]
    assert listing["training"]["seats_left"] == 0

    # after the start: no new sign-ups, no cancellations
    started = dt.datetime(2026, 11, 3, 1, 0)
    with pytest.raises(Conflict):
        _sign_up(db, _user(7), event_id, at=started)
    with pytest.raises(Conflict):
        _cancel(db, _user(1, "person"), event_id, at=started)


def test_public_list_is_upcoming_by_category_and_hides_the_online_link(db):
    online = _event(db, category="standardization", mode="online", venue=None,
                    online_url="https://meeting.example.cn/std-101", starts="2026-11-10T14:00:00+08:00")
    _event(db, category="metrology", starts="2026-11-05T09:00:00+08:00")
    with db.read() as session:
        listed = training.list_upcoming(session, now=NOW)
        assert [e["category_code"] for e in listed["items"]] == ["metrology", "standardization"]
        assert listed["total"] == 2
        only_std = training.list_upcoming(session, category="standardization", now=NOW)["items"]
        assert [e["training_id"] for e in only_std] == [online["training_id"]]
        assert "online_url" not in only_std[0]
        assert training.list_upcoming(session, now=dt.datetime(2026, 11, 6))["total"] == 1   # past ones drop out
    assert online["online_url"] == "https://meeting.example.cn/std-101"                   # operators see it
    mine = _sign_up(db, _user(1), online["training_id"])
    assert mine["status"] == "confirmed" and mine["online_url"] == "https://meeting.example.cn/std-101"


def test_the_list_tells_a_signed_in_participant_their_own_sign_up(db):
    event_id = _event(db, capacity=1, starts="2026-11-05T09:00:00+08:00")["training_id"]
    other_id = _event(db, category="standardization", starts="2026-11-10T14:00:00+08:00")["training_id"]
    _sign_up(db, _user(1), event_id)
    _sign_up(db, _user(2, "person"), event_id)          # the one seat is taken: waiting list
    with db.read() as session:
        def mine(principal):
            return {e["training_id"]: e.get("mine") for e in training.list_upcoming(session, principal, now=NOW)["items"]}
        first, second = mine(_user(1)), mine(_user(2, "person"))
        assert first[event_id]["status"] == "confirmed" and first[other_id] is None
        assert (second[event_id]["status"], second[event_id]["waitlist_position"]) == ("waitlisted", 1)
        assert all("mine" not in e for e in training.list_upcoming(session, now=NOW)["items"])      # anonymous
        assert all("mine" not in e for e in training.list_upcoming(session, OPERATOR, now=NOW)["items"])


def test_concurrent_sign_ups_never_overbook(db):
    event_id = _event(db, capacity=3)["training_id"]
    errors = []

    def worker(n):
        try:
            _sign_up(db, _user(n), event_id)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.read() as session:
        rows = [(r.status, r.queue_no) for r in
                session.scalars(select(TrainingSignup).where(TrainingSignup.event_id == event_id))]
    assert sum(status == "confirmed" for status, _ in rows) == 3
    assert sum(status == "waitlisted" for status, _ in rows) == 7
    assert len({number for _, number in rows}) == 10
    # the confirmed ones are the first three in the queue
    assert sorted(n for status, n in rows if status == "confirmed") == sorted(n for _, n in rows)[:3]


def _attend(db, event_id, user_ids, at, **extra):
    from services.registry.contract.schemas_training import AttendanceIn
    with db.transaction() as session:
        return training.record_attendance(session, OPERATOR, event_id, load(AttendanceIn, {"user_ids": user_ids,
                                                                                          **extra}), at=at)


def _attended_events(db):
    import json
    from services.common.outbox import OutboxEvent
    with db.read() as session:
        return [json.loads(r.body)["data"] for r in session.scalars(
            select(OutboxEvent).where(OutboxEvent.type == "training.attended").order_by(OutboxEvent.seq))]


def test_attendance_marks_confirmed_participants_once_and_publishes_training_attended(db):
    event = _event(db, capacity=1, qualification_code="icpms-operation")
    assert event["qualification_code"] == "icpms-operation"
    _sign_up(db, _user(1), event["training_id"])
    _sign_up(db, _user(2), event["training_id"])            # waitlisted: capacity 1
    after = dt.datetime(2026, 11, 3, 4, 0)
    with pytest.raises(Conflict) as info:                    # before the start
        _attend(db, event["training_id"], ["user-1"], at=NOW)
    assert info.value.code == "training_not_started"
    with pytest.raises(ValidationFailed) as info:           # one waitlisted id refuses the whole list
        _attend(db, event["training_id"], ["user-1", "user-2", "nobody"], at=after)
    assert len(info.value.errors["user_ids"]) == 2 and _attended_events(db) == []
    out = _attend(db, event["training_id"], ["user-1"], at=after)
    assert out["recorded"] == ["user-1"] and out["training"]["attended"] == 1
    again = _attend(db, event["training_id"], ["user-1"], at=after)
    assert again["recorded"] == [] and again["already"] == ["user-1"]
    assert _attended_events(db) == [{"training_id": event["training_id"], "user_id": "user-1",
                                     "category_code": "metrology", "qualification_code": "icpms-operation",
                                     "attended_on": "2026-11-03"}]
    with pytest.raises(Forbidden):
        with db.transaction() as session:
            training.record_attendance(session, _user(1), event["training_id"], {"user_ids": ["user-1"]}, at=after)
    with pytest.raises(ValidationFailed):
        load(TrainingIn, {"category_code": "ip", "title": "x", "starts_at": "2026-11-03T09:00:00Z", "mode": "onsite",
                          "venue": "v", "capacity": 3, "qualification_code": "Bad Code!"})
