"""Demands (R-6.3): who may see which, how one is shown, publication and listing.

The platform's actions on a demand are in handling.py, its end in closing.py, the
SLA list in clocks.py, visits and packages in their own modules.

Object-level rules live here (the pipeline checks the operation's roles, once): an
enterprise sees and acts on its own demands only; window staff see the demands they
filed (and their own window's visits, see visits.py).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common import platform, sla, verification_levels
from services.common.db import utcnow
from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.common.events import iso_utc
from services.common.money import to_money
from services.common.outbox import record_event

from .contract.vocabulary import CATEGORIES, STAFF_CHANNELS
from .models import Demand, DemandEntry, IndexedInstitution, Package, PackageMember, Visit
from .shown import Shown

log = logging.getLogger(__name__)

SOURCE = "matching"
RESPONSE_RULE = "matching.demand_response"
RECOMMENDATION_RULE = "matching.demand_recommendation"
RULES = (RESPONSE_RULE, RECOMMENDATION_RULE)
SUBJECT = "demand"
READERS = platform.STAFF_READERS

# An enterprise lookup: user id -> the identity service's view of that user
# ({"user_id", "role", "status"} from account_kind), or None when there is no such user.
EnterpriseLookup = Callable[[str], "dict | None | object"]


def iso(value: dt.datetime | None) -> str | None:
    """A stored (naive UTC) instant as event payloads carry it."""
    return None if value is None else iso_utc(value)


def actor(principal: dict | None) -> dict:
    if not principal or not principal.get("user_id") or not principal.get("role"):
        raise Forbidden("Sign in first / 请先登录")
    return principal


# -- access ---------------------------------------------------------------------------------
def may_read(principal: dict, demand: Demand) -> bool:
    role = principal["role"]
    if role in READERS:
        return True
    if role == "enterprise":
        return demand.enterprise_user_id == str(principal["user_id"])
    if role == "window":
        return demand.entered_by == str(principal["user_id"])
    return False


def load_demand(session: Session, principal: dict, demand_id: str, for_update: bool = False) -> Demand:
    demand = session.get(Demand, demand_id, with_for_update=for_update)
    # Someone else's demand answers 404, not 403: its existence is not theirs to know.
    if demand is None or not may_read(actor(principal), demand):
        raise NotFound("No such demand / 需求不存在", code="demand_not_found")
    return demand


def ensure_open(demand: Demand) -> None:
    if demand.status == "closed":
        raise Conflict("The demand is closed / 需求已结束", code="demand_closed")


def add_entry(session, demand, principal, kind, body) -> DemandEntry:
    entry = DemandEntry(demand_id=demand.id, kind=kind, actor_user_id=str(principal["user_id"]),
                        actor_role=principal["role"], body=json.dumps(body, ensure_ascii=False, default=str),
                        created_at=utcnow())
    session.add(entry)
    session.flush()
    return entry


def window_of_demand(session: Session, demand: Demand) -> str | None:
    """The window whose visit collected the demand (demand.closed names it), else None."""
    if not demand.visit_id:
        return None
    visit = session.get(Visit, demand.visit_id)
    return visit.window_id if visit is not None else None


def clock_attribution(session: Session, demand: Demand, principal: dict | None) -> dict:
    """Whom a verdict of the demand's clocks counts for (sla.clock_closed), for every start, stop
    and cancel: the demand's window when a visit collected it, else the acting staff member's;
    the acting staff member's institution. An enterprise or operator adds nothing, so a later
    stop keeps what the start or an earlier answer knew (sla.stop_clock)."""
    attribution = sla.attributed_to(principal)
    attribution["window_id"] = window_of_demand(session, demand) or attribution["window_id"]
    return attribution


def active_institution(session, institution_id) -> IndexedInstitution:
    row = session.get(IndexedInstitution, str(institution_id))
    if row is None or row.status != "active":
        raise ValidationFailed("Not an active platform institution / 非平台在册机构",
                               errors={"institution_id": [str(institution_id)]})
    return row


# -- how a demand is shown (schemas_demands.DemandOut dumps it) -------------------------------------
def timeline_entry(entry: DemandEntry) -> dict:
    """A timeline entry: its columns and what its JSON body holds (which fields, depends on its kind)."""
    return {**json.loads(entry.body or "{}"), "id": entry.id, "kind": entry.kind,
            "actor_user_id": entry.actor_user_id, "actor_role": entry.actor_role, "at": entry.created_at}


def detail(session: Session, demand: Demand) -> Shown:
    """One demand with its timeline, its SLA clocks and, when packaged, its share of the package."""
    entries = session.scalars(select(DemandEntry).where(DemandEntry.demand_id == demand.id).order_by(DemandEntry.seq))
    clocks = session.scalars(select(sla.SlaClock).where(sla.SlaClock.subject_type == SUBJECT,
                                                        sla.SlaClock.subject_id == demand.id)
                             .order_by(sla.SlaClock.started_at, sla.SlaClock.rule))
    extra = {"timeline": [timeline_entry(e) for e in entries], "sla": [sla.clock_view(c) for c in clocks]}
    if demand.package_id:
        member = session.get(PackageMember, (demand.package_id, demand.id))
        package = session.get(Package, demand.package_id)
        extra["package"] = {"package_id": package.id, "title": package.title, "institution_id": package.institution_id,
                            "share_yuan": member.share_yuan if member else None}
    return Shown(demand, **extra)


# -- publication ----------------------------------------------------------------------------
def check_enterprise(lookup: EnterpriseLookup | None, user_id) -> dict:
    """Staff file demands for an enterprise: the account must exist, be an enterprise, and be active.

    One message for all three failures, so the answer does not tell which ids exist.
    """
    if lookup is None:
        # A programming error, not the caller's: never skip the check silently.
        raise RuntimeError("filing a demand for an enterprise needs an enterprise lookup")
    user = lookup(str(user_id))
    if not user or user.get("role") != "enterprise" or user.get("status") != "active":
        raise ValidationFailed("Not an active enterprise account / 不是有效的企业账号",
                               errors={"enterprise_user_id": ["not an active enterprise account / 不是有效的企业账号"]})
    return user


def publish(session: Session, principal: dict, data: dict, at: dt.datetime | None = None,
            enterprise_lookup: EnterpriseLookup | None = None) -> Shown:
    """An enterprise publishes online; staff enter a phone/on-site/visit demand for one (R-6.3.1.1).

    `enterprise_lookup` is required when staff file for an enterprise (see check_enterprise).
    """
    principal = actor(principal)
    role = principal["role"]
    if role == "enterprise":
        if data.get("channel", "online") != "online" or data.get("enterprise_user_id") not in (None, str(principal["user_id"])):
            raise Forbidden("An enterprise publishes its own demands online / 企业只能在线发布自己的需求")
        # The level comes from the signed access token (verification_levels.REQUIRED says why this one).
        verification_levels.require("demand.publish", principal.get("verification_level"))
        owner, channel = str(principal["user_id"]), "online"
    elif role in platform.PLATFORM_STAFF:
        owner, channel = data.get("enterprise_user_id"), data.get("channel")
        if not owner or channel not in STAFF_CHANNELS:
            raise ValidationFailed("Staff enter a demand for an enterprise taken by phone, on site or on a visit / "
                                   "代录需求须指明企业与渠道",
                                   errors={"enterprise_user_id": ["required"], "channel": ["phone|onsite|visit"]})
    else:
        raise Forbidden(f"Role '{role}' may not publish demands / 当前角色不能发布需求")
    if data["category"] not in CATEGORIES:
        raise ValidationFailed("Unknown category / 未知服务类别", errors={"category": list(CATEGORIES)})
    if role != "enterprise":
        enterprise = check_enterprise(enterprise_lookup, owner)
        # Staff filing for an enterprise: the enterprise's level, per channel (see verification_levels).
        verification_levels.require(f"demand.file.{channel}", enterprise.get("verification_level"), subject="enterprise")
    at = at or utcnow()
    demand = Demand(
        enterprise_user_id=owner, channel=channel, entered_by=str(principal["user_id"]), visit_id=data.get("visit_id"),
        title=data["title"], description=data.get("description") or "", category=data["category"],
        item_code=data.get("item_code"), product=data.get("product"), standard=data.get("standard"),
        parameter=data.get("parameter"), region=data.get("region"), industry=data.get("industry"),
        budget_yuan=to_money(data.get("budget_yuan")),
        desired_cycle_working_days=data.get("desired_cycle_working_days"),
        status="published", created_at=at)
    session.add(demand)
    session.flush()
    # R-6.3.2.1: respond within 1 working day, recommend within 3, from publication.
    # A demand entered at a window (or collected on its visit) counts for that window's on-time rate.
    attribution = clock_attribution(session, demand, principal)
    sla.start_clock(session, RESPONSE_RULE, SUBJECT, demand.id, at=at, **attribution)
    sla.start_clock(session, RECOMMENDATION_RULE, SUBJECT, demand.id, at=at, **attribution)
    record_event(session, SOURCE, "demand.published", demand.id, {
        "demand_id": demand.id, "enterprise_user_id": owner, "channel": channel, "category": demand.category,
        "item_code": demand.item_code, "region": demand.region, "published_at": iso(at)})
    return detail(session, demand)


# -- reading --------------------------------------------------------------------------------
def list_demands(session: Session, principal: dict, status: str | None = None, limit: int = 50,
                 cursor: str | None = None) -> dict:
    principal = actor(principal)
    query = select(Demand)
    role = principal["role"]
    if role == "enterprise":
        query = query.where(Demand.enterprise_user_id == str(principal["user_id"]))
    elif role == "window":
        query = query.where(Demand.entered_by == str(principal["user_id"]))
    elif role not in READERS:
        raise Forbidden("Not allowed / 无权查看需求")
    if status:
        query = query.where(Demand.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    if cursor:
        created, _, demand_id = cursor.partition("|")
        try:
            created_at = dt.datetime.fromisoformat(created)
        except ValueError:
            raise ValidationFailed("Invalid cursor / 游标无效", errors={"cursor": ["invalid"]}) from None
        query = query.where((Demand.created_at < created_at)
                            | ((Demand.created_at == created_at) & (Demand.id < demand_id)))
    rows = list(session.scalars(query.order_by(Demand.created_at.desc(), Demand.id.desc()).limit(limit + 1)))
    page = rows[:limit]
    next_cursor = f"{page[-1].created_at.isoformat()}|{page[-1].id}" if len(rows) > limit else None
    return {"items": page, "total": total, "next_cursor": next_cursor}


def get_demand(session: Session, principal: dict, demand_id: str) -> Shown:
    return detail(session, load_demand(session, principal, demand_id))
