"""Registration is not an oracle for personal data: a taken phone, ID number or credit
code gets one generic answer, and a client network that keeps hitting it is throttled."""
from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from services.common import errors
from services.identity import registration
from services.identity.models import RegistrationConflict, User

from ..helpers import count, enterprise_payload, events, person_id_number, person_payload

IP = "203.0.113.7"
OTHER_IP = "198.51.100.20"


class Clock:
    def __init__(self, start: dt.datetime):
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(dt.datetime(2026, 10, 12, 2, 0))
    monkeypatch.setattr(registration, "utcnow", clock)
    return clock


def _refusal(service, payload, ip=IP) -> errors.DomainError:
    with pytest.raises(errors.DomainError) as caught:
        service.from_ip(ip).register(payload)
    return caught.value


def _uscc(serial: str) -> str:
    from stdnum.cn import uscc

    body = "91321202MA1TXT" + serial
    return body + uscc.calc_check_digit(body)


def test_taken_phone_id_number_and_uscc_get_the_same_answer(service, db):
    person = person_payload()
    enterprise = enterprise_payload()
    service.register(person)
    service.register(enterprise)

    by_phone = _refusal(service, person_payload(username="person2", id_number=person_id_number("456"),
                                                phone=person["phone"]))
    by_id_number = _refusal(service, person_payload(username="person3", phone="13700003333"))
    by_uscc = _refusal(service, enterprise_payload(username="firm2", phone="13900004444"))
    by_enterprise_phone = _refusal(service, enterprise_payload(username="firm3", uscc=_uscc("002"),
                                                               phone=person["phone"]))

    answers = [by_phone, by_id_number, by_uscc, by_enterprise_phone]
    assert all(type(a) is errors.Conflict for a in answers)
    assert {repr(a.problem()) for a in answers} == {repr(by_phone.problem())}
    problem = by_phone.problem()
    assert problem["status"] == 409 and problem["code"] == "registration_conflict"
    assert "errors" not in problem
    assert " / " in problem["detail"]                      # English / Chinese
    for word in ("phone", "ID number", "credit code", "USCC", "手机", "身份证", "信用代码"):
        assert word not in problem["detail"] and word not in problem["title"]
    assert count(db, User) == 2
    assert len(events(db, "user.registered")) == 2


def test_taken_username_stays_specific(service, db):
    service.register(person_payload())
    # The username is checked first, so a taken username says nothing about the phone.
    refused = _refusal(service, enterprise_payload(username="li.si", phone=person_payload()["phone"]))
    assert refused.code == "username_taken" and "username" in refused.errors
    assert count(db, RegistrationConflict) == 0


def test_staff_creation_by_an_admin_still_names_the_taken_phone(service, db):
    from ..helpers import make_user

    admin = make_user(db, "root", "admin")
    service.register(person_payload())
    with pytest.raises(errors.Conflict) as caught:
        service.create_staff(admin, {"username": "operator9", "password": "Correct-Horse-9", "role": "operator",
                                     "nickname": "op", "phone": person_payload()["phone"]})
    assert caught.value.code == "phone_taken"


def test_the_eleventh_conflict_from_one_network_within_an_hour_is_throttled(service, db, db_path, clock):
    service.register(person_payload())
    taken = person_payload(username="again", phone="13700009999")      # same ID number

    for attempt in range(registration.REGISTRATION_CONFLICT_LIMIT):
        clock.now += dt.timedelta(minutes=5)
        assert _refusal(service, {**taken, "username": f"again{attempt}"}).code == "registration_conflict"

    throttled = _refusal(service, {**taken, "username": "again10"})
    assert throttled.status == 429 and throttled.code == "registration_throttled"
    # Conflicts at +5 ... +50 min: the oldest leaves the hour's window 15 minutes from now.
    assert throttled.retry_after == 15 * 60 and throttled.problem()["retry_after"] == 15 * 60
    # Free details are refused too: a 429 only for taken ones would itself be the answer.
    free = person_payload(username="newcomer", phone="13700008888", id_number=person_id_number("789"))
    assert _refusal(service, free).status == 429
    assert count(db, User) == 1

    # Another network is not affected.
    assert service.from_ip(OTHER_IP).register(free)["username"] == "newcomer"

    # The conflicts were 5 minutes apart: an hour after the first, that one no longer counts.
    clock.now += dt.timedelta(minutes=16)
    assert _refusal(service, {**taken, "username": "again11"}).code == "registration_conflict"

    # Only a keyed hash of the network is stored, never the address.
    rows = sqlite3.connect(db_path).execute("SELECT client_key FROM registration_conflict").fetchall()
    assert rows and all(len(key) == 64 and IP not in key for (key,) in rows)


def test_old_conflicts_are_purged_and_validation_errors_are_not_counted(service, db, clock):
    service.register(person_payload())
    taken = person_payload(username="again", phone="13700009999")
    for attempt in range(3):
        _refusal(service, {**taken, "username": f"again{attempt}"})
    assert count(db, RegistrationConflict) == 3
    with pytest.raises(errors.ValidationFailed):
        service.from_ip(IP).register(person_payload(username="bad", id_number="123"))
    assert count(db, RegistrationConflict) == 3
    clock.now += registration.REGISTRATION_CONFLICT_WINDOW + dt.timedelta(seconds=1)
    _refusal(service, {**taken, "username": "again9"})
    assert count(db, RegistrationConflict) == 1


def test_ipv6_addresses_of_one_subscriber_share_a_limit(service, db, clock):
    service.register(person_payload())
    taken = person_payload(username="again", phone="13700009999")
    for attempt in range(registration.REGISTRATION_CONFLICT_LIMIT):
        _refusal(service, {**taken, "username": f"again{attempt}"}, ip=f"2001:db8:1:2::{attempt + 1:x}")
    assert _refusal(service, {**taken, "username": "xavier"}, ip="2001:db8:1:2:ffff::1").status == 429
    assert _refusal(service, {**taken, "username": "xavier"}, ip="2001:db8:1:3::1").code == "registration_conflict"


def test_a_stored_idempotent_result_is_replayed_even_when_throttled(service, db, clock):
    first = service.from_ip(IP).register(enterprise_payload(), idempotency_key="k-1")
    taken = enterprise_payload(username="again", phone="13900007777")   # same credit code
    for attempt in range(registration.REGISTRATION_CONFLICT_LIMIT):
        _refusal(service, {**taken, "username": f"again{attempt}"})
    assert service.from_ip(IP).register(enterprise_payload(), idempotency_key="k-1") == first
    assert _refusal(service, enterprise_payload(username="late", phone="13900006666",
                                                uscc=_uscc("003"))).status == 429
