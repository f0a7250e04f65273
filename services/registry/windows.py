"""Service windows (R-4.1.2, R-4.2): park stations, institution windows, enterprise windows.

Every window carries the uniform platform identity (name, code, address,
contact, opening hours) and a configurable service list (catalogue item codes).
An institution window also publishes its institution's items with cycle and
price (R-4.2.2.4); an enterprise window holds its point-to-point case and team
(R-4.2.3), shown to staff only. Window staff are bound to one window by their
account's `window_id` and may edit only that window's service list; the identity
fields (name, code, region, address, contact, opening hours, public listing) are
the platform's uniform identity (R-4.2.1.4) and only operators edit them.
The point-to-point cases of enterprise windows live in `cases.py`.
"""
from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.audit import audit
from services.common.db import utcnow
from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.common.events import iso_utc
from services.common.outbox import record_event

from . import access
from .journal import SOURCE
from .models import CatalogItem, Institution, Window


def _check_services(session: Session, codes: list[str]) -> None:
    unknown = [c for c in codes if session.get(CatalogItem, c) is None]
    if unknown:
        raise ValidationFailed("Unknown catalogue items / 服务事项不存在", errors={"services": [", ".join(unknown)]})


def publish_services(session: Session, window: Window) -> None:
    """window.services_changed: the items the window serves (booking checks appointment slots against it)."""
    record_event(session, SOURCE, "window.services_changed", window.id, {
        "window_id": window.id, "kind": window.kind, "institution_id": window.institution_id,
        "services": json.loads(window.services), "changed_at": iso_utc(window.updated_at)})


def view(session: Session, window: Window, principal: dict | None) -> dict:
    out = {"window_id": window.id, "kind": window.kind, "code": window.code, "name": window.name,
           "region": window.region, "address": window.address, "contact": window.contact,
           "opening_hours": window.opening_hours, "public": window.public, "institution_id": window.institution_id,
           "services": json.loads(window.services)}
    if window.kind == "institution" and window.institution_id:
        from .institutions import capability_view, offered_capabilities
        inst = session.get(Institution, window.institution_id)
        if inst is not None and inst.status == "active":
            names = dict(session.execute(select(CatalogItem.code, CatalogItem.name_zh)).all())
            out["published_items"] = [capability_view(c, names) for c in offered_capabilities(session, inst)]
    # The free-form case summary of an enterprise window is as confidential as its
    # cases (cases.py): platform operators only.
    if window.kind == "enterprise" and (principal or {}).get("role") in access.OPERATORS:
        out["case_info"] = json.loads(window.case_info) if window.case_info else None
    return out


def staffs_window(principal: dict | None, window: Window) -> bool:
    # The binding counts only for window staff: the service does not rely on the
    # gateway (or on identity having cleared an old binding) for that.
    return (principal or {}).get("role") == "window" and principal.get("window_id") == window.id


def _visible(window: Window, principal: dict | None) -> bool:
    return window.public or access.is_staff_reader(principal) or staffs_window(principal, window)


def create(session: Session, principal: dict, data: dict, window_id: str | None = None) -> dict:
    if session.scalars(select(Window).where(Window.code == data["code"])).first() is not None:
        raise Conflict(f"Window code {data['code']} exists / 窗口编码已存在", code="window_exists")
    _check_services(session, data.get("services", []))
    window = Window(id=window_id or data["code"].lower(), kind=data["kind"], code=data["code"], name=data["name"],
                    region=data["region"], address=data["address"], contact=data["contact"],
                    opening_hours=data["opening_hours"], public=data.get("public", True),
                    institution_id=data.get("institution_id"),
                    services=json.dumps(data.get("services", [])),
                    case_info=json.dumps(data["case_info"], ensure_ascii=False) if data.get("case_info") else None,
                    updated_at=utcnow())
    session.add(window)
    session.flush()
    publish_services(session, window)
    audit(session, principal, "window.created", "window", window.id)
    return view(session, window, principal)


def get(session: Session, principal: dict | None, window_id: str) -> dict:
    window = session.get(Window, window_id)
    if window is None or not _visible(window, principal):
        raise NotFound("No such window / 窗口不存在", code="window_not_found")
    return view(session, window, principal)


def list_windows(session: Session, principal: dict | None, kind: str | None = None) -> list[dict]:
    query = select(Window).order_by(Window.kind, Window.code)
    if kind:
        query = query.where(Window.kind == kind)
    return [view(session, w, principal) for w in session.scalars(query) if _visible(w, principal)]


def set_services(session: Session, principal: dict, window_id: str, services: list[str]) -> dict:
    principal = access.require_principal(principal)
    window = session.get(Window, window_id)
    if window is None:
        raise NotFound("No such window / 窗口不存在", code="window_not_found")
    if principal["role"] not in access.OPERATORS and not staffs_window(principal, window):
        raise Forbidden("Window staff edit only their own window / 只能维护本窗口", code="not_your_window")
    _check_services(session, services)
    window.services = json.dumps(services)
    window.updated_at = utcnow()
    publish_services(session, window)
    audit(session, principal, "window.services_set", "window", window.id, detail={"services": services})
    return view(session, window, principal)


def configure_services(session: Session, principal: dict, window_id: str, data: dict) -> dict:
    """The operation: a loaded WindowServicesIn."""
    return set_services(session, principal, window_id, data["services"])


IDENTITY_FIELDS = ("code", "name", "region", "address", "contact", "opening_hours", "public")


def update_identity(session: Session, principal: dict, window_id: str, data: dict) -> dict:
    principal = access.require_role(principal, access.OPERATORS)
    window = session.get(Window, window_id)
    if window is None:
        raise NotFound("No such window / 窗口不存在", code="window_not_found")
    if data.get("code") and data["code"] != window.code:
        if session.scalars(select(Window).where(Window.code == data["code"])).first() is not None:
            raise Conflict(f"Window code {data['code']} exists / 窗口编码已存在", code="window_exists")
    changes = {k: v for k, v in data.items() if k in IDENTITY_FIELDS and getattr(window, k) != v}
    before = {k: getattr(window, k) for k in changes}
    for key, value in changes.items():
        setattr(window, key, value)
    if changes:
        window.updated_at = utcnow()
        # The id stays: accounts are bound to it (window_id), so renaming the code breaks no binding.
        audit(session, principal, "window.identity_updated", "window", window.id,
              detail={"before": before, "after": changes})
    session.flush()
    return view(session, window, principal)
