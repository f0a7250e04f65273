"""Demo accounts for a local run: one per role that the walkthrough needs.

    python -m services.identity.demo        # after `python -m services.common.migrate identity`

Idempotent: an existing username is left alone. Every account's password is
DEMO_PASSWORD. The demo ID number and phone are stored like real ones
(encrypted, blind-indexed), so a grep of the database or the logs for them
must find nothing; the tests do exactly that.
"""
from __future__ import annotations

from sqlalchemy import select
from stdnum.cn import uscc

from services.common import resident_id
from services.common.db import Database, utcnow

from . import registration
from . import staff as staff_accounts
from .contract.schemas import CreateStaff, RegisterEnterprise, RegisterPerson, load
from .models import User, new_id
from .passwords import hash_password

DEMO_PASSWORD = "Passw0rd!2026"
DEMO_PHONE = "13800138000"
DEMO_WINDOW_ID = "demo-window-1"


def _valid_id_number() -> str:
    # Born 1990 in Hailing (321202, a code from 1996): valid, because region codes
    # are the issuing authority's, not the birthplace's at birth (resident_id.py).
    body = "32120219900307291"
    return body + resident_id.check_character(body)


def _valid_uscc() -> str:
    # 9 = registered by market regulation, 1 = enterprise, 321202 = Taizhou Hailing;
    # the check character is computed, never typed.
    body = "91321202MA1QXDEM8"
    return body + uscc.calc_check_digit(body)


DEMO_ID_NUMBER = _valid_id_number()
DEMO_USCC = _valid_uscc()

STAFF = (
    {"username": "operator1", "role": "operator", "nickname": "平台运营 1"},
    {"username": "regulator1", "role": "regulator", "nickname": "市场监管局 1"},
    {"username": "window1", "role": "window", "nickname": "园区服务站 1", "window_id": DEMO_WINDOW_ID},
)


def seed(db: Database) -> dict:
    """Create the demo accounts that are missing; returns {username: user_id}."""
    created: dict[str, str] = {}
    with db.transaction() as session:
        existing = {u.username: u.id for u in session.scalars(select(User))}

        admin_id = existing.get("admin")
        if admin_id is None:
            # The first admin cannot be made by an admin; it is the bootstrap.
            admin = User(id=new_id(), username="admin", role="admin", status="active", nickname="平台管理员",
                         password_hash=hash_password(DEMO_PASSWORD), created_at=utcnow(), updated_at=utcnow())
            session.add(admin)
            session.flush()
            registration.registered_event(session, admin)
            admin_id = created["admin"] = admin.id
        admin_principal = {"user_id": admin_id, "role": "admin", "sid": None, "ip": None}

        for staff in STAFF:
            if staff["username"] not in existing:
                data = load(CreateStaff, {**staff, "password": DEMO_PASSWORD})
                created[staff["username"]] = staff_accounts.create_staff(session, admin_principal, data).id

        if "ent-demo" not in existing:
            data = load(RegisterEnterprise, {
                "username": "ent-demo", "password": DEMO_PASSWORD, "phone": "13900139000",
                "nickname": "示范企业", "org_name": "泰州示范质量科技有限公司", "uscc": DEMO_USCC,
                "contact_name": "王示范"})
            enterprise = registration.register(session, data)
            created["ent-demo"] = enterprise.id
            _review_demo_licence(session, enterprise, existing.get("operator1") or created.get("operator1"))

        if "person-demo" not in existing:
            data = load(RegisterPerson, {
                "username": "person-demo", "password": DEMO_PASSWORD, "phone": DEMO_PHONE,
                "nickname": "示范个人", "real_name": "李示范", "id_number": DEMO_ID_NUMBER})
            created["person-demo"] = registration.register(session, data).id
    return created


# A one-page PDF that says what it is: the demo enterprise's "licence".
DEMO_LICENCE_PDF = b"%PDF-1.4\n% QI One-Stop demo business licence (not a real document)\n%%EOF\n"


def _review_demo_licence(session, enterprise: User, operator_id: str | None) -> None:
    """The demo enterprise walks the real path: phone verified, licence uploaded and approved.

    So the walkthrough can publish demands online, which needs licence_reviewed
    (services.common.verification_levels). Done through licence.submit/decide,
    so the level, the SLA clock and the events are exactly what a real review makes.
    """
    import base64

    from . import levels, licence

    now = utcnow()
    before = levels.level_of(enterprise)
    enterprise.phone_verified_at = now
    levels.announce_if_raised(session, enterprise, before, "phone", now)
    licence.submit(session, enterprise, {"filename": "demo-licence.pdf",
                                         "content_base64": base64.b64encode(DEMO_LICENCE_PDF).decode()}, at=now)
    reviewer = {"user_id": operator_id or "demo", "role": "operator", "sid": None, "ip": None}
    licence.decide(session, reviewer, enterprise.id, {"decision": "approve"}, at=now)


LOAD_POOL_PREFIX = "load-ent-"


def load_pool_username(n: int) -> str:
    return f"{LOAD_POOL_PREFIX}{n:04d}"


def seed_load_pool(db: Database, count: int) -> int:
    """`count` more demo enterprises for bench/load_test.py: load-ent-0001 ..., password DEMO_PASSWORD.

    Each is registered, phone-verified and licence-reviewed through the same domain code as
    ent-demo (so it can publish demands, and the same events go out), with a unique valid
    credit code and phone. Argon2 is deliberately expensive (~0.3 s of CPU): the password is
    hashed once and that one real hash is stored for every pool account, so 200 accounts take
    seconds, not a minute of CPU. Signing in still verifies it with Argon2. Idempotent.
    """
    shared_hash = None
    made = 0
    with db.transaction() as session:
        existing = set(session.scalars(select(User.username).where(User.username.like(LOAD_POOL_PREFIX + "%"))))
        operator_id = session.scalar(select(User.id).where(User.username == "operator1"))
        for n in range(1, count + 1):
            username = load_pool_username(n)
            if username in existing:
                continue
            shared_hash = shared_hash or hash_password(DEMO_PASSWORD)
            body = f"91321202MA1L{n:05d}"
            data = load(RegisterEnterprise, {
                "username": username, "password": DEMO_PASSWORD, "phone": f"137{n:08d}",
                "nickname": f"压测企业 {n}", "org_name": f"泰州压测样本企业 {n} 有限公司",
                "uscc": body + uscc.calc_check_digit(body), "contact_name": "张压测"})
            enterprise = registration.register(session, data, password_hash=shared_hash)
            _review_demo_licence(session, enterprise, operator_id)
            made += 1
    return made


def main(argv=None) -> None:
    import argparse

    from services.common.db import engine_for

    parser = argparse.ArgumentParser(description="Demo accounts (identity)")
    parser.add_argument("--load-pool", type=int, default=0, metavar="N",
                        help="also make N demo enterprises load-ent-0001... for bench/load_test.py")
    args = parser.parse_args(argv)
    db = Database(engine_for("identity"))
    created = seed(db)
    print("created:", ", ".join(created) if created else "nothing (all demo accounts exist)")
    if args.load_pool:
        print(f"load-test pool: {seed_load_pool(db, args.load_pool)} enterprises made "
              f"({load_pool_username(1)} ... {load_pool_username(args.load_pool)})")


if __name__ == "__main__":
    main()
