"""R-6.1.1 registration: real-name checks per field, events without personal data, idempotency."""
from __future__ import annotations

import sqlite3

import pytest

from services.common import errors
from services.common.consumer import IdempotencyRecord
from services.identity.models import User

from ..helpers import assert_no_pii, count, enterprise_payload, events, person_payload


def _nothing_written(db):
    assert count(db, User) == 0
    assert count(db, "outbox_event") == 0
    assert count(db, IdempotencyRecord) == 0


def test_enterprise_registration_checks_the_format_only_and_records_events(service, db):
    payload = enterprise_payload()
    view = service.register(payload)

    assert view["role"] == "enterprise"
    # A checksum is a format check, not a verification (issue 8 point 7).
    assert view["verification_level"] == "format_checked" and view["format_checked_at"]
    assert view["identity_verified"] is False and view["phone_verified"] is False
    assert view["uscc"] == payload["uscc"]
    assert view["phone"] == "139****5678"
    assert view["real_name"] == "张*"
    assert view["pii_revealed"] is False

    registered = events(db, "user.registered")
    verified = events(db, "user.verified")
    assert [e["data"]["user_id"] for e in registered] == [view["id"]]
    assert registered[0]["data"].keys() == {"user_id", "role", "nickname", "registered_at", "verification_level"}
    assert registered[0]["data"]["verification_level"] == "format_checked"
    assert registered[0]["subject"] == view["id"]
    assert verified == []   # nothing was verified yet
    for envelope in events(db):
        assert_no_pii(str(envelope), payload["phone"], payload["contact_name"])


def test_person_registration_stores_pii_encrypted(service, db, db_path):
    payload = person_payload()
    view = service.register(payload)

    assert view["role"] == "person" and view["verification_level"] == "format_checked"
    assert view["identity_verified"] is False
    assert view["id_number"] == payload["id_number"][:4] + "*" * 10 + payload["id_number"][-4:]
    for envelope in events(db):
        assert_no_pii(str(envelope), payload["phone"], payload["id_number"], payload["real_name"])

    raw = sqlite3.connect(db_path).execute("SELECT phone, id_number, real_name, phone_bidx FROM user").fetchone()
    assert all(value.startswith("v1:") for value in raw[:3])
    assert len(raw[3]) == 64
    with db.read() as session:
        user = session.get(User, view["id"])
        assert (user.phone, user.id_number, user.real_name) == (payload["phone"], payload["id_number"], "李四")


@pytest.mark.parametrize("field, value", [
    ("uscc", "91321202MA1TXT0010"),            # wrong check character
    ("uscc", "123"),
    ("phone", "1234567890"),
    ("phone", "23912345678"),
])
def test_enterprise_invalid_fields_are_reported_per_field_and_nothing_is_written(service, db, field, value):
    with pytest.raises(errors.ValidationFailed) as caught:
        service.register(enterprise_payload(**{field: value}))
    assert list(caught.value.errors) == [field]
    _nothing_written(db)


def test_id_number_with_wrong_check_digit_is_rejected(service, db):
    good = person_payload()["id_number"]
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    with pytest.raises(errors.ValidationFailed) as caught:
        service.register(person_payload(id_number=wrong))
    assert list(caught.value.errors) == ["id_number"]
    assert caught.value.status == 422
    _nothing_written(db)


def test_unknown_field_wrong_type_and_short_password_are_field_errors(service, db):
    with pytest.raises(errors.ValidationFailed) as caught:
        service.register(person_payload(is_admin=True, username=123, password="short"))
    assert set(caught.value.errors) == {"is_admin", "username", "password"}
    _nothing_written(db)


def test_unknown_kind_is_rejected(service, db):
    with pytest.raises(errors.ValidationFailed) as caught:
        service.register_person({**person_payload(), "kind": "admin"})
    assert "kind" in caught.value.errors
    _nothing_written(db)


def test_normalized_values_are_stored(service, db):
    view = service.register(enterprise_payload(phone="+86 139-1234-5678", username="ACME"))
    assert view["username"] == "acme"
    with db.read() as session:
        assert session.get(User, view["id"]).phone == "13912345678"


def test_username_and_phone_are_unique(service, db):
    service.register(enterprise_payload())
    with pytest.raises(errors.Conflict) as caught:
        service.register(person_payload(username="acme"))
    assert caught.value.code == "username_taken"
    with pytest.raises(errors.Conflict) as caught:
        service.register(person_payload(phone="13912345678"))
    # Which detail is taken is not said (see test_registration_conflict.py).
    assert caught.value.code == "registration_conflict" and caught.value.errors == {}
    assert count(db, User) == 1


def test_one_personal_account_per_id_number(service, db):
    service.register(person_payload())
    with pytest.raises(errors.Conflict) as caught:
        service.register(person_payload(username="other", phone="13700002222"))
    assert caught.value.code == "registration_conflict"


def test_idempotency_key_returns_the_same_user_and_creates_one_row(service, db):
    first = service.register(enterprise_payload(), idempotency_key="key-1")
    again = service.register(enterprise_payload(), idempotency_key="key-1")
    assert again == first
    assert count(db, User) == 1
    assert len(events(db, "user.registered")) == 1
    with pytest.raises(errors.Conflict) as caught:
        service.register(enterprise_payload(nickname="Other"), idempotency_key="key-1")
    assert caught.value.code == "idempotency_key_reused"
    with db.read() as session:
        record = session.get(IdempotencyRecord, ("anonymous", "key-1"))
        assert_no_pii(record.response, "13912345678", "张三")


def test_a_loaded_payload_loads_again_to_itself(service):
    from services.identity.contract.schemas import RegisterPerson

    loaded = RegisterPerson().load({k: v for k, v in person_payload().items() if k != "kind"})
    assert RegisterPerson().load(loaded) == loaded
    assert service.register(loaded)["role"] == "person"
