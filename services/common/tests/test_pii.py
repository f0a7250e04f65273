import base64
import datetime as dt
import os

import pytest
from sqlalchemy import Integer, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from services.common import pii
from services.common.db import make_engine
from services.common.errors import ValidationFailed
from services.common.pii import (
    EncryptedText, PiiCipher, PiiDecryptionError, PiiKeyError, blind_index, check_id_number, check_mobile,
    check_uscc, mask_id_number, mask_name, mask_phone, may_reveal, normalize_phone, parse_keys,
)

# Verified with stdnum: uscc.is_valid / ric.is_valid return True for these.
VALID_USCC = "913200001347714063"
VALID_ID = "11010519491231002X"
VALID_ID_2 = "360426199101010071"


def b64key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture(autouse=True)
def pii_env(monkeypatch):
    monkeypatch.setenv("QI_PII_KEYS", f"k1:{b64key()},k0:{b64key()}")
    monkeypatch.delenv("QI_PII_ACTIVE_KID", raising=False)
    monkeypatch.setenv("QI_BLIND_INDEX_KEY", "test-blind-index-key")
    pii.reset_cipher()
    yield
    pii.reset_cipher()


def test_round_trip_and_token_format():
    cipher = PiiCipher.from_config()
    token = cipher.encrypt("张三 13812345678")
    assert token.startswith("v1:k1:")
    assert cipher.decrypt(token) == "张三 13812345678"


def test_ciphertext_hides_plaintext_and_is_randomized():
    cipher = pii.get_cipher()
    a, b = cipher.encrypt("13812345678"), cipher.encrypt("13812345678")
    assert a != b
    for token in (a, b):
        assert "13812345678" not in token
        assert b"13812345678" not in base64.urlsafe_b64decode(token.split(":", 2)[2])


def test_tampered_token_is_rejected():
    cipher = pii.get_cipher()
    token = cipher.encrypt("13812345678")
    raw = bytearray(base64.urlsafe_b64decode(token.split(":", 2)[2]))
    raw[-1] ^= 0x01
    tampered = "v1:k1:" + base64.urlsafe_b64encode(bytes(raw)).decode()
    with pytest.raises(PiiDecryptionError, match="tampered or wrong key"):
        cipher.decrypt(tampered)
    with pytest.raises(PiiDecryptionError):
        cipher.decrypt("plaintext")
    with pytest.raises(PiiDecryptionError, match="not configured"):
        cipher.decrypt(token.replace("v1:k1:", "v1:k9:"))


def test_kid_is_bound_as_associated_data():
    # Same key material under two ids: relabelling must still fail.
    key = os.urandom(32)
    cipher = PiiCipher({"a": key, "b": key}, "a")
    token = cipher.encrypt("secret")
    with pytest.raises(PiiDecryptionError):
        cipher.decrypt(token.replace("v1:a:", "v1:b:"))


def test_wrong_key_is_rejected():
    token = PiiCipher({"k1": os.urandom(32)}).encrypt("secret")
    with pytest.raises(PiiDecryptionError):
        PiiCipher({"k1": os.urandom(32)}).decrypt(token)


def test_rotation_old_tokens_still_decrypt(monkeypatch):
    old = pii.get_cipher().encrypt("13812345678")
    assert old.startswith("v1:k1:")
    monkeypatch.setenv("QI_PII_ACTIVE_KID", "k0")
    pii.reset_cipher()
    cipher = pii.get_cipher()
    assert cipher.decrypt(old) == "13812345678"
    new = cipher.encrypt("13812345678")
    assert new.startswith("v1:k0:") and cipher.kid_of(new) == "k0"


def test_key_configuration_errors(monkeypatch):
    with pytest.raises(PiiKeyError, match="32 bytes"):
        parse_keys("k1:" + base64.b64encode(b"short").decode())
    with pytest.raises(PiiKeyError, match="base64"):
        parse_keys("k1:not base64!!")
    with pytest.raises(PiiKeyError, match="kid:base64key"):
        parse_keys(b64key())
    monkeypatch.setenv("QI_PII_ACTIVE_KID", "nope")
    with pytest.raises(PiiKeyError, match="nope"):
        PiiCipher.from_config()


def test_dev_default_key_is_valid(monkeypatch):
    monkeypatch.delenv("QI_PII_KEYS")
    cipher = PiiCipher.from_config()
    assert cipher.active_kid == "dev1"


def test_dev_default_key_is_refused_in_production(monkeypatch):
    monkeypatch.delenv("QI_PII_KEYS")
    monkeypatch.setenv("QI_ENV", "production")
    with pytest.raises(RuntimeError, match="QI_PII_KEYS"):
        PiiCipher.from_config()


def test_blind_index_stable_normalized_and_domain_separated():
    assert blind_index("phone", "13812345678") == blind_index("phone", "13812345678")
    assert len(blind_index("phone", "13812345678")) == 64
    for variant in ("+86 138 1234 5678", "86-138-1234-5678", "+8613812345678", "0086 13812345678"):
        assert blind_index("phone", variant) == blind_index("phone", "13812345678"), variant
    assert blind_index("id_number", "11010519491231002x") == blind_index("id_number", " 110105 19491231 002X")
    assert blind_index("phone", "13812345678") != blind_index("phone", "13812345679")
    assert blind_index("phone", "110105194912310021") != blind_index("id_number", "110105194912310021")
    assert blind_index("phone", None) is None
    with pytest.raises(ValueError):
        blind_index("email", "a@b.c")


def test_blind_index_depends_on_key(monkeypatch):
    first = blind_index("phone", "13812345678")
    monkeypatch.setenv("QI_BLIND_INDEX_KEY", "another-key")
    pii.reset_cipher()
    assert blind_index("phone", "13812345678") != first


def test_normalize_phone_keeps_local_numbers():
    assert normalize_phone("010-8888 6666") == "01088886666"
    assert normalize_phone("8613812345678") == "13812345678"


def test_masks():
    assert mask_id_number("321202199001011234") == "3212**********1234"
    assert mask_id_number("110105491231002") == "1101*******1002"
    assert mask_id_number("1234567") == "*******"
    assert mask_id_number(None) is None
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+86 138 1234 5678") == "138****5678"
    assert mask_phone("12345") == "*****"
    assert mask_phone(None) is None
    assert mask_name("张三丰") == "张**"
    assert mask_name("张三") == "张*"
    assert mask_name("张") == "*"
    assert mask_name("") == ""
    assert mask_name(None) is None


def test_uscc_validation():
    assert check_uscc(VALID_USCC) == VALID_USCC
    assert check_uscc("9132 0000-1347 71406 3") == VALID_USCC
    assert pii.valid_uscc(VALID_USCC) == VALID_USCC
    with pytest.raises(ValidationFailed) as info:
        check_uscc("913200001347714064", field="credit_code")
    assert list(info.value.errors) == ["credit_code"]
    assert " / " in info.value.errors["credit_code"][0]
    assert not pii.is_valid_uscc("91320000134771406D")
    assert not pii.is_valid_uscc(None)


def test_id_number_validation():
    assert check_id_number(VALID_ID.lower()) == VALID_ID
    assert check_id_number(VALID_ID_2) == VALID_ID_2
    with pytest.raises(ValidationFailed) as info:
        check_id_number("110105194912310021")  # check digit should be X
    assert info.value.errors.keys() == {"id_number"}
    assert info.value.status == 422
    with pytest.raises(ValidationFailed) as info:
        check_id_number("", field="legal_person_id")
    assert "legal_person_id" in info.value.errors
    assert not pii.is_valid_id_number("110105491231002")  # 15-digit IDs are no longer accepted


def test_id_number_future_birth_date_rejected():
    with pytest.raises(ValidationFailed, match="birth date"):
        check_id_number(VALID_ID_2, today=dt.date(1990, 1, 1))


def test_mobile_validation():
    assert check_mobile("+86 138-1234-5678") == "13812345678"
    assert pii.valid_mobile("19912345678") == "19912345678"
    for bad in ("12812345678", "1381234567", "010-88886666", None, ""):
        with pytest.raises(ValidationFailed) as info:
            check_mobile(bad, field="contact_phone")
        assert "contact_phone" in info.value.errors


def test_may_reveal():
    owner = {"user_id": "u1", "role": "enterprise", "sid": None, "ip": None}
    other = {"user_id": "u2", "role": "enterprise", "sid": None, "ip": None}
    assert may_reveal(owner, "u1")
    assert not may_reveal(other, "u1")
    assert may_reveal({"user_id": "op", "role": "operator"}, "u1")
    assert may_reveal({"user_id": "ad", "role": "admin"}, "u1")
    assert not may_reveal(None, "u1")
    assert not may_reveal({"user_id": None, "role": "enterprise"}, None)


class _Base(DeclarativeBase):
    pass


class _Person(_Base):
    __tablename__ = "person"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone: Mapped[str | None] = mapped_column(EncryptedText)
    phone_bidx: Mapped[str | None] = mapped_column(String(64), index=True)


def test_encrypted_column_never_stores_plaintext(tmp_path):
    path = tmp_path / "pii.db"
    engine = make_engine(f"sqlite:///{path}")
    _Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        session.add(_Person(id=1, phone="13812345678", phone_bidx=blind_index("phone", "13812345678")))
        session.add(_Person(id=2, phone=None))
    with Session(engine) as session:
        found = session.scalars(select(_Person).where(_Person.phone_bidx == blind_index("phone", "+86 13812345678"))).one()
        assert found.phone == "13812345678"
        assert session.get(_Person, 2).phone is None
        stored = session.connection().exec_driver_sql("select phone from person where id = 1").scalar()
        assert stored.startswith("v1:k1:")
        assert session.scalars(select(_Person.id).where(_Person.phone.is_(None))).all() == [2]
    engine.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"v1:k1:" in raw
    assert b"13812345678" not in raw
    assert "13812345678".encode("utf-16-le") not in raw


def test_encrypted_column_refuses_sql_comparison():
    with pytest.raises(TypeError, match="blind index"):
        select(_Person).where(_Person.phone == "13812345678")
