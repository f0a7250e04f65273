"""What appointments link to and may offer, kept as local copies from other services' events.

A window appointment may serve a demand (matching) or an enterprise-window case (registry): it
must exist and be the booking enterprise's own. A slot's service items must be among the items
its window serves (R-4.2.2.4). Booking reads no other service's tables, and it does not ask
them at booking time either: an RPC to matching or the registry would refuse every appointment
(or, worse, wave them through) while that service is down. Copies kept from their events stay
correct through an outage: events wait in the queue and are applied, idempotently, when the
consumer comes back; an appointment checked meanwhile is judged on the last published state.

    matching  demand.published / demand.closed        -> known_link(kind "demand")
    registry  case.opened / case.closed               -> known_link(kind "case")
    registry  window.services_changed                 -> known_window
"""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy.orm import Session

from services.common.consumer import claim_event
from services.common.db import utcnow
from services.common.errors import Conflict, ValidationFailed

from .models import KnownLink, KnownWindow

CONSUMER = "booking.links"
EVENTS = {
    "on_demand_published": ("matching", "demand.published"),
    "on_demand_closed": ("matching", "demand.closed"),
    "on_case_opened": ("registry", "case.opened"),
    "on_case_closed": ("registry", "case.closed"),
    "on_window_services_changed": ("registry", "window.services_changed"),
}
_LINKS = {"demand.published": ("demand", "demand_id", False), "demand.closed": ("demand", "demand_id", True),
          "case.opened": ("case", "case_id", False), "case.closed": ("case", "case_id", True)}


def apply_event(session: Session, envelope: dict) -> str:
    kind = envelope.get("type")
    if kind not in _LINKS and kind != "window.services_changed":
        return "ignored"
    if not claim_event(session, CONSUMER, envelope):
        return "duplicate"
    data = envelope.get("data") or {}
    if kind == "window.services_changed":
        set_window(session, str(data["window_id"]), data.get("services") or [], data.get("kind"),
                   data.get("institution_id"))
        return "window"
    link_kind, id_field, closed = _LINKS[kind]
    row = session.get(KnownLink, (link_kind, str(data[id_field])), with_for_update=True)
    if row is None:
        row = KnownLink(kind=link_kind, id=str(data[id_field]), enterprise_user_id=str(data["enterprise_user_id"]),
                        closed=closed)
        session.add(row)
    # A close is final: a late "published/opened" redelivered after it does not reopen.
    row.closed = row.closed or closed
    row.updated_at = utcnow()
    session.flush()
    return link_kind


def set_window(session: Session, window_id: str, services: list, kind: str | None = None,
               institution_id: str | None = None) -> KnownWindow:
    row = session.get(KnownWindow, window_id)
    if row is None:
        row = KnownWindow(id=window_id)
        session.add(row)
    row.kind, row.institution_id = kind, institution_id
    row.services = json.dumps(sorted(set(services)))
    row.changed_at = utcnow()
    session.flush()
    return row


def check_slot_items(session: Session, window_id: str, items: list) -> None:
    row = session.get(KnownWindow, window_id)
    if row is None:
        raise Conflict("The window's service items have not reached booking yet / 尚未收到该窗口的服务事项",
                       code="window_not_known")
    offered = set(json.loads(row.services))
    unknown = sorted(set(items) - offered)
    if unknown:
        raise ValidationFailed("A slot offers only the window's published service items / 时段只能办理窗口已公布的服务事项",
                               errors={"service_items": [f"not served by the window / 窗口未提供: {', '.join(unknown)}"]},
                               code="item_not_served")


def check_links(session: Session, user_id: str, data: dict) -> None:
    """The demand or case an appointment serves exists, is the enterprise's own and is still open."""
    errors = {}
    for link_kind, field in (("demand", "demand_id"), ("case", "case_id")):
        if not data.get(field):
            continue
        row = session.get(KnownLink, (link_kind, str(data[field])))
        if row is None or row.enterprise_user_id != user_id:
            # Someone else's demand looks the same as none: ids of others are not confirmed.
            errors[field] = [f"no such {link_kind} of yours / 不存在或不属于本企业"]
        elif row.closed:
            errors[field] = [f"the {link_kind} is closed / 已结束"]
    if errors:
        raise ValidationFailed("The appointment must link your own open demand or case / 预约须关联本企业未结束的需求或案例",
                               errors=errors, code="link_not_yours")
