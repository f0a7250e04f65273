"""Builders shared by the registry tests (also used by the e2e tests)."""
from __future__ import annotations

import base64
import datetime as dt
import json

from sqlalchemy import select

PDF = b"%PDF-1.4\n% demo attachment\n" + b"0" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
EXE = b"MZ\x90\x00" + b"\x00" * 64


def attachment(content: bytes = PDF, name: str = "file.pdf") -> dict:
    return {"filename": name, "content_base64": base64.b64encode(content).decode()}


def valid_uscc(serial: int = 1) -> str:
    from stdnum.cn import uscc
    body = f"91321202MA{serial:07d}"
    return body + uscc.calc_check_digit(body)


def application(serial: int = 1, **overrides) -> dict:
    payload = {
        "institution": {"name": f"泰州测试检测有限公司{serial}", "kind": "lab", "uscc": valid_uscc(serial),
                        "region": "海陵区", "park": "海陵工业园区", "address": "泰州市海陵区测试路 1 号",
                        "legal_representative": "赵测试"},
        "attachments": {"application_form": attachment(PDF + b"form"), "business_licence": attachment(PNG, "l.png"),
                        "integrity_pledge": attachment(PDF + b"pledge")},
        "qualifications": [{"ref": "q1", "type": "CMA", "number": f"CMA-T-{serial}", "issuer": "江苏省市场监督管理局",
                            "valid_from": "2024-01-01", "valid_to": "2030-12-31", "scope": "家用电器检验",
                            "certificate": attachment(PDF + b"cert")}],
        "capabilities": [{"category": "testing", "item_code": "tst.matching", "product": "家用电器",
                          "parameter": "电气安全", "method_standard": "GB 4706.1-2005", "price_yuan": "3200",
                          "cycle_working_days": 10, "qualification_ref": "q1"}],
    }
    payload.update(overrides)
    return payload


def events(db, event_type=None) -> list[dict]:
    from services.common.outbox import OutboxEvent
    with db.read() as session:
        query = select(OutboxEvent).order_by(OutboxEvent.seq)
        if event_type:
            query = query.where(OutboxEvent.type == event_type)
        return [json.loads(r.body) for r in session.scalars(query)]


# -- onboarding steps on a migrated database (the `db` fixture) ---------------------------------

APPLICANT = {"user_id": "user-ent-1", "role": "enterprise"}
OTHER = {"user_id": "user-ent-2", "role": "enterprise"}
OPERATOR = {"user_id": "user-op", "role": "operator"}
REGULATOR = {"user_id": "user-reg", "role": "regulator"}
WED = dt.datetime(2026, 9, 30, 2, 0)          # Wednesday 10:00 Shanghai, before the National Day break


def submit(db, payload=None, at=WED, principal=APPLICANT):
    from services.common.schemas import load
    from services.registry import applications
    from services.registry.contract.schemas_applications import ApplicationIn
    with db.transaction() as session:
        return applications.submit_application(session, principal, load(ApplicationIn, payload or application()),
                                               at=at)


def review(db, app_id, decision, reasons=None, at=None):
    from services.registry import applications
    with db.transaction() as session:
        return applications.review_application(session, OPERATOR, app_id, decision, reasons, at=at)


def approved(db, serial=1):
    view = submit(db, application(serial))
    review(db, view["application_id"], "approve", at=WED + dt.timedelta(days=1))
    return view["institution_id"]


def call(service, name: str, principal, *args, **kwargs):
    """An operation of the registry's contract on a service instance (nameko's worker_factory), with the
    path parameters and the body given positionally as the gateway sends them."""
    from services.registry.contract import CONTRACT
    op = CONTRACT.operation(name)
    names = op.path_params + (["payload"] if op.body is not None else [])
    return getattr(service, name)(principal=principal, **dict(zip(names, args)), **kwargs)


def dumped(operation: str, result):
    """A domain function's result as its operation's response schema dumps it (what the pipeline returns)."""
    from services.registry.contract import CONTRACT
    op = CONTRACT.operation(operation)
    return op.response().dump(result, many=op.many)
