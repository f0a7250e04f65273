"""Demo accounts for a local run: one per role that the walkthrough needs.

    python -m services.identity.demo        # after `python -m services.common.migrate identity`

Idempotent: an existing username is left alone. Every account's password is
DEMO_PASSWORD. The demo ID number and phone are stored like real ones
(encrypted, blind-indexed), so a grep of the database or the logs for them
must find nothing; the tests do exactly that.
"""
from __future__ import annotations

from sqlalchemy import select
from stdnum.cn import ric, uscc

from services.common.db import Database, utcnow

from . import accounts
from .models import User, new_id
from .passwords import hash_password
from .schemas import CreateStaff, RegisterEnterprise, RegisterPerson, load

DEMO_PASSWORD = "Passw0rd!2026"
DEMO_PHONE = "13800138000"
DEMO_WINDOW_ID = "demo-window-1"


def _valid_id_number() -> str:
    wanted = "32120219900307291X"
    if ric.is_valid(wanted):
        return wanted
    # Region 321202 (海陵区) exists only since 1996, so GB 11643's region check
    # refuses a 1990 birth date there; keep the region, move the birth year.
    body = "32120219980307291"
    return body + ric.calc_check_digit(body + "0")


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
            accounts.registered_event(session, admin)
            admin_id = created["admin"] = admin.id
        admin_principal = {"user_id": admin_id, "role": "admin", "sid": None, "ip": None}

        for staff in STAFF:
            if staff["username"] not in existing:
                data = load(CreateStaff, {**staff, "password": DEMO_PASSWORD})
                created[staff["username"]] = accounts.create_staff(session, admin_principal, data).id

        if "ent-demo" not in existing:
            data = load(RegisterEnterprise, {
                "username": "ent-demo", "password": DEMO_PASSWORD, "phone": "13900139000",
                "nickname": "示范企业", "org_name": "泰州示范质量科技有限公司", "uscc": DEMO_USCC,
                "contact_name": "王示范"})
            created["ent-demo"] = accounts.register(session, data).id

        if "person-demo" not in existing:
            data = load(RegisterPerson, {
                "username": "person-demo", "password": DEMO_PASSWORD, "phone": DEMO_PHONE,
                "nickname": "示范个人", "real_name": "李示范", "id_number": DEMO_ID_NUMBER})
            created["person-demo"] = accounts.register(session, data).id
    return created


def main() -> None:
    from services.common.db import engine_for

    created = seed(Database(engine_for("identity")))
    print("created:", ", ".join(created) if created else "nothing (all demo accounts exist)")


if __name__ == "__main__":
    main()
