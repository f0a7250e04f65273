"""Builders and probes shared by the identity tests."""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, select, text

from services.common import caller, client_address
from services.common.outbox import OutboxEvent

PASSWORD = "Correct-Horse-9"


class Api:
    """The identity worker's RPC methods, called as CallerRpc would call them.

    `api.get_user(principal, user_id, reveal=True)`: the first argument of a
    method that needs a caller is the principal CallerRpc would have verified
    (passed on as `principal=`); the rest follows the wire convention (path
    parameters, then the body, then keywords). Public operations take no
    principal. `api.from_ip(ip)` sets the client address the gateway reports.
    """

    def __init__(self, worker):
        from services.identity.contract import CONTRACT

        self.worker = worker
        self.operations = {op.name: op for op in CONTRACT.operations}

    def from_ip(self, ip: str | None) -> "Api":
        for key in (caller.CLIENT_IP_KEY, caller.DEADLINE_KEY, client_address.SEAL_KEY):
            self.worker.call_data.pop(key, None)
        if ip is not None:
            self.worker.call_data.update(client_address.sealed(ip))   # as the gateway seals it
        return self

    def register(self, payload: dict, **kwargs) -> dict:
        """register_enterprise or register_person, by the payload's kind."""
        return getattr(self, f"register_{payload['kind']}")(payload, **kwargs)

    def login(self, username: str, password: str) -> dict:
        return self.worker.login({"username": username, "password": password})

    def __getattr__(self, name):
        method = getattr(self.worker, name)
        op = self.operations.get(name)
        if op is None or op.roles is None:
            return method      # hand-written (principal first, as written) or public

        def call(principal, *args, **kwargs):
            return method(*args, principal=principal, **kwargs)
        return call


def count(db, model_or_table) -> int:
    with db.read() as session:
        if isinstance(model_or_table, str):
            return session.scalar(text(f'SELECT COUNT(*) FROM "{model_or_table}"'))
        return session.scalar(select(func.count()).select_from(model_or_table))


def events(db, event_type: str | None = None) -> list[dict]:
    with db.read() as session:
        query = select(OutboxEvent).order_by(OutboxEvent.seq)
        if event_type:
            query = query.where(OutboxEvent.type == event_type)
        return [json.loads(row.body) for row in session.scalars(query)]


def enterprise_payload(**overrides) -> dict:
    from stdnum.cn import uscc

    body = "91321202MA1TXT001"
    payload = {"kind": "enterprise", "username": "acme", "password": PASSWORD, "phone": "13912345678",
               "nickname": "Acme", "org_name": "泰州测试科技有限公司", "uscc": body + uscc.calc_check_digit(body),
               "contact_name": "张三"}
    payload.update(overrides)
    return payload


def person_id_number(serial: str = "123") -> str:
    from stdnum.cn import ric

    body = "32120219980612" + serial
    return body + ric.calc_check_digit(body + "0")


def person_payload(**overrides) -> dict:
    payload = {"kind": "person", "username": "li.si", "password": PASSWORD, "phone": "13700001111",
               "nickname": "小李", "real_name": "李四", "id_number": person_id_number()}
    payload.update(overrides)
    return payload


def utc(*args) -> dt.datetime:
    return dt.datetime(*args)


def make_user(db, username: str, role: str, **fields) -> dict:
    """Insert an account directly (staff the tests need); returns its principal."""
    from services.common import pii
    from services.common.db import utcnow
    from services.identity.models import User, new_id
    from services.identity.passwords import hash_password

    with db.transaction() as session:
        user = User(id=new_id(), username=username, role=role, status="active", nickname=username,
                    password_hash=hash_password(PASSWORD), created_at=utcnow(), updated_at=utcnow(), **fields)
        if user.phone:
            user.phone_bidx = pii.blind_index("phone", user.phone)
        session.add(user)
    return {"user_id": user.id, "role": role, "sid": None, "ip": "127.0.0.1"}


def principal_of(view: dict) -> dict:
    return {"user_id": view["id"], "role": view["role"], "sid": None, "ip": "127.0.0.1"}


PII_FIELD_NAMES = ("phone", "id_number", "real_name", "contact_name")


def assert_no_pii(text_blob: str, *values: str) -> None:
    for value in values:
        assert value not in text_blob, f"personal data {value[:3]}... leaked"
