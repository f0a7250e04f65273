"""Demo seed: idempotent, every demo account usable, personal data never in clear on disk."""
from __future__ import annotations

from sqlalchemy import text
from stdnum.cn import ric, uscc

from services.common import pii
from services.identity import demo
from services.identity.models import User

from ..helpers import count


def test_demo_constants_are_valid_numbers():
    # Born 1990 with Hailing's 1996 code: refused by stdnum's birth-year rule, valid here (issue 8 point 5).
    assert not ric.is_valid(demo.DEMO_ID_NUMBER) and pii.check_id_number(demo.DEMO_ID_NUMBER) == demo.DEMO_ID_NUMBER
    assert uscc.is_valid(demo.DEMO_USCC)
    assert pii.check_mobile(demo.DEMO_PHONE) == demo.DEMO_PHONE


def test_seed_is_idempotent_and_keeps_pii_off_disk(db, db_path, service, tmp_path):
    created = demo.seed(db)
    assert set(created) == {"admin", "operator1", "regulator1", "window1", "ent-demo", "person-demo"}
    assert demo.seed(db) == {}
    assert count(db, User) == 6
    with db.read() as session:
        from services.identity import levels
        # The walkthrough publishes demands online as ent-demo, which needs a reviewed licence.
        assert levels.level_of(session.query(User).filter_by(username="ent-demo").one()) == "licence_reviewed"

    login = service.login("person-demo", demo.DEMO_PASSWORD)
    person = {"user_id": login["user"]["id"], "role": "person", "sid": login["sid"], "ip": None}
    # Exercise the SMS log too: the phone must not reach it either.
    from services.identity import service as service_module, verification
    sender = verification.LogSmsSender()
    service_module_sender = service_module.sms_sender
    try:
        service_module.sms_sender = lambda: sender
        service.request_phone_code(person, {})
    finally:
        service_module.sms_sender = service_module_sender
    admin = service.login("admin", demo.DEMO_PASSWORD)
    admin_p = {"user_id": admin["user"]["id"], "role": "admin", "sid": admin["sid"], "ip": None}
    assert service.get_user(admin_p, person["user_id"], reveal=True)["id_number"] == demo.DEMO_ID_NUMBER
    assert service.find_user_by_phone(admin_p, {"phone": demo.DEMO_PHONE})["items"][0]["username"] == "person-demo"

    with db.transaction() as session:
        session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "sms-outbox.log" for p in files)
    for path in files:
        blob = path.read_bytes()
        for secret in (demo.DEMO_ID_NUMBER, demo.DEMO_PHONE, "李示范"):
            assert secret.encode() not in blob, f"{secret[:3]}... in clear in {path.name}"

    with db.read() as session:
        window = session.query(User).filter_by(username="window1").one()
        assert window.window_id == demo.DEMO_WINDOW_ID
        assert session.query(User).filter_by(username="ent-demo").one().uscc == demo.DEMO_USCC


def test_load_pool_accounts_sign_in_and_may_publish(db, service):
    demo.seed(db)
    assert demo.seed_load_pool(db, 3) == 3
    assert demo.seed_load_pool(db, 3) == 0          # idempotent
    assert demo.seed_load_pool(db, 4) == 1          # grows by the missing ones
    from services.identity import levels
    with db.read() as session:
        pool = session.query(User).filter(User.username.like(demo.LOAD_POOL_PREFIX + "%")).all()
        assert len(pool) == 4 and len({u.uscc for u in pool}) == 4 and len({u.phone_bidx for u in pool}) == 4
        assert all(uscc.is_valid(u.uscc) and levels.level_of(u) == "licence_reviewed" for u in pool)
        hashes = [u.password_hash for u in sorted(pool, key=lambda u: u.username)]
    login = service.login(demo.load_pool_username(4), demo.DEMO_PASSWORD)
    assert login["user"]["role"] == "enterprise"
    # One real Argon2id hash per seeding call, shared by the accounts it made; not a weakened one.
    assert len(set(hashes[:3])) == 1 and hashes[3] != hashes[0]
    assert all(h.startswith("$argon2id$") for h in hashes)
