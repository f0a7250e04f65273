"""Demands (R-6.3): publication with SLA clocks, response, recommendation, engagement,
follow-up, external referral, closing; window visit records; packaged demands.

Object-level rules live here (the gateway only checks roles): an enterprise
sees and acts on its own demands only; window staff see their own window's
visits (the window comes from identity, see `service.MatchingService._window_of`).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from typing import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common import sla, verification_levels
from services.common.audit import audit
from services.common.db import utcnow
from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.common.money import CENT, money_str, to_money
from services.common.outbox import record_event
from services.common.workdays import get_calendar, local_date

from . import search, text
from .models import Demand, DemandEntry, IndexedInstitution, Package, PackageMember, Visit

log = logging.getLogger(__name__)

SOURCE = "matching"
RESPONSE_RULE = "matching.demand_response"
RECOMMENDATION_RULE = "matching.demand_recommendation"
SUBJECT = "demand"
STAFF = ("operator", "admin")
READERS = ("operator", "admin", "regulator")
ENTERING_STAFF = ("operator", "window", "admin")

# Closing outcomes (schemas.CLOSE_OUTCOMES) with a rule attached. Only the enterprise
# withdraws its own demand, and a withdrawal cancels the open SLA clocks: the demand
# went away, so there is nothing left to be late for. Any other closing never counts
# as the answer a clock still waits for (see _end_unanswered): a clock past due is
# breached, so that closing cannot hide a late answer; one not yet due is cancelled.
WITHDRAWN = "withdrawn"
# Staff's outcomes for a demand the platform will not serve; they need a reason and
# are the only way for staff to close a demand that has had no response yet.
DISMISSALS = ("rejected", "duplicate")

# An enterprise lookup: user id -> the identity service's view of that user
# ({"user_id", "role", "status"} from account_kind), or None when there is no such user.
EnterpriseLookup = Callable[[str], "dict | None | object"]


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat() + "Z"


def _actor(principal: dict | None) -> dict:
    if not principal or not principal.get("user_id") or not principal.get("role"):
        raise Forbidden("Sign in first / 请先登录")
    return principal


def _require(principal: dict, roles) -> None:
    if principal["role"] not in roles:
        raise Forbidden(f"Role '{principal['role']}' may not do this / 当前角色无权执行该操作")


def open_clocks(session, principal: dict | None, overdue: bool | None = None,
                calendar_gap: bool | None = None) -> list[dict]:
    """Open SLA clocks of matching (demand response and recommendation), for staff oversight."""
    principal = _actor(principal)
    _require(principal, READERS)
    return [sla.clock_view(c) for c in sla.list_clocks(session, state=list(sla.OPEN_STATES), overdue=overdue,
                                                       calendar_gap=calendar_gap)]


# -- views --------------------------------------------------------------------------------
def entry_view(entry: DemandEntry) -> dict:
    return {"id": entry.id, "kind": entry.kind, "actor_user_id": entry.actor_user_id, "actor_role": entry.actor_role,
            "at": _iso(entry.created_at), **json.loads(entry.body or "{}")}


def demand_view(session: Session, demand: Demand, detail: bool = True) -> dict:
    view = {c: getattr(demand, c) for c in (
        "id", "enterprise_user_id", "channel", "entered_by", "visit_id", "title", "description", "category",
        "item_code", "product", "standard", "parameter", "region", "industry", "budget_yuan",
        "desired_cycle_working_days", "status", "institution_id", "package_id", "outcome")}
    view["budget_yuan"] = money_str(demand.budget_yuan)  # money travels as "1200.00", like dates as ISO text
    view["created_at"] = _iso(demand.created_at)
    view["closed_at"] = _iso(demand.closed_at)
    if detail:
        entries = list(session.scalars(select(DemandEntry).where(DemandEntry.demand_id == demand.id)
                                       .order_by(DemandEntry.seq)))
        view["timeline"] = [entry_view(e) for e in entries]
        view["sla"] = [sla.clock_view(c) for c in session.scalars(
            select(sla.SlaClock).where(sla.SlaClock.subject_type == SUBJECT, sla.SlaClock.subject_id == demand.id)
            .order_by(sla.SlaClock.started_at, sla.SlaClock.rule))]
        if demand.package_id:
            member = session.get(PackageMember, (demand.package_id, demand.id))
            package = session.get(Package, demand.package_id)
            view["package"] = {"package_id": package.id, "title": package.title,
                               "institution_id": package.institution_id,
                               "share_yuan": money_str(member.share_yuan) if member else None}
    return view


def load_demand(session: Session, principal: dict, demand_id: str, for_update: bool = False) -> Demand:
    demand = session.get(Demand, demand_id, with_for_update=for_update)
    # Someone else's demand answers 404, not 403: its existence is not theirs to know.
    if demand is None or not _may_read(principal, demand):
        raise NotFound("No such demand / 需求不存在", code="demand_not_found")
    return demand


def _may_read(principal: dict, demand: Demand) -> bool:
    role = principal["role"]
    if role in READERS:
        return True
    if role == "enterprise":
        return demand.enterprise_user_id == str(principal["user_id"])
    if role == "window":
        return demand.entered_by == str(principal["user_id"])
    return False


def _open(demand: Demand) -> None:
    if demand.status == "closed":
        raise Conflict("The demand is closed / 需求已结束", code="demand_closed")


def _add_entry(session, demand, principal, kind, body) -> DemandEntry:
    entry = DemandEntry(demand_id=demand.id, kind=kind, actor_user_id=str(principal["user_id"]),
                        actor_role=principal["role"], body=json.dumps(body, ensure_ascii=False, default=str),
                        created_at=utcnow())
    session.add(entry)
    session.flush()
    return entry


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
            enterprise_lookup: EnterpriseLookup | None = None) -> dict:
    """An enterprise publishes online; staff enter a phone/on-site/visit demand for one (R-6.3.1.1).

    `enterprise_lookup` is required when staff file for an enterprise (see check_enterprise).
    """
    principal = _actor(principal)
    role = principal["role"]
    if role == "enterprise":
        if data.get("channel", "online") != "online" or data.get("enterprise_user_id") not in (None, str(principal["user_id"])):
            raise Forbidden("An enterprise publishes its own demands online / 企业只能在线发布自己的需求")
        # The level comes from the signed access token (verification_levels.REQUIRED says why this one).
        verification_levels.require("demand.publish", principal.get("verification_level"))
        owner, channel = str(principal["user_id"]), "online"
    elif role in ENTERING_STAFF:
        owner, channel = data.get("enterprise_user_id"), data.get("channel")
        if not owner or channel not in ("phone", "onsite", "visit"):
            raise ValidationFailed("Staff enter a demand for an enterprise taken by phone, on site or on a visit / "
                                   "代录需求须指明企业与渠道",
                                   errors={"enterprise_user_id": ["required"], "channel": ["phone|onsite|visit"]})
    else:
        raise Forbidden(f"Role '{role}' may not publish demands / 当前角色不能发布需求")
    if data["category"] not in text.CATEGORIES:
        raise ValidationFailed("Unknown category / 未知服务类别", errors={"category": list(text.CATEGORIES)})
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
    sla.start_clock(session, RESPONSE_RULE, SUBJECT, demand.id, at=at)
    sla.start_clock(session, RECOMMENDATION_RULE, SUBJECT, demand.id, at=at)
    record_event(session, SOURCE, "demand.published", demand.id, {
        "demand_id": demand.id, "enterprise_user_id": owner, "channel": channel, "category": demand.category,
        "item_code": demand.item_code, "region": demand.region, "published_at": _iso(at)})
    return demand_view(session, demand)


def list_demands(session: Session, principal: dict, status: str | None = None, limit: int = 50,
                 cursor: str | None = None) -> dict:
    principal = _actor(principal)
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
    return {"items": [demand_view(session, d, detail=False) for d in page], "total": total, "next_cursor": next_cursor}


def get_demand(session: Session, principal: dict, demand_id: str) -> dict:
    return demand_view(session, load_demand(session, _actor(principal), demand_id))


# -- platform actions ---------------------------------------------------------------------------
def respond(session: Session, principal: dict, demand_id: str, data: dict, at: dt.datetime | None = None) -> dict:
    principal = _actor(principal)
    _require(principal, STAFF + ("window",))
    demand = load_demand(session, principal, demand_id, for_update=True)
    _open(demand)
    at = at or utcnow()
    _add_entry(session, demand, principal, "response", {"message": data["message"]})
    sla.stop_clock(session, (RESPONSE_RULE, SUBJECT, demand.id), at=at, missing_ok=True)
    if demand.status == "published":
        demand.status = "responded"
    record_event(session, SOURCE, "demand.responded", demand.id,
                 {"demand_id": demand.id, "enterprise_user_id": demand.enterprise_user_id, "responded_at": _iso(at)})
    return demand_view(session, demand)


def proposals(session: Session, principal: dict, demand_id: str, limit: int = 10) -> dict:
    principal = _actor(principal)
    _require(principal, STAFF + ("window",))
    demand = load_demand(session, principal, demand_id)
    return {"demand_id": demand.id, "items": search.propose(session, demand, limit=limit)}


def _active_institution(session, institution_id) -> IndexedInstitution:
    row = session.get(IndexedInstitution, str(institution_id))
    if row is None or row.status != "active":
        raise ValidationFailed("Not an active platform institution / 非平台在册机构",
                               errors={"institution_id": [str(institution_id)]})
    return row


def recommend(session: Session, principal: dict, demand_id: str, data: dict, at: dt.datetime | None = None) -> dict:
    """The operator's confirmed (possibly edited) list; only platform institutions (R-6.3.2.2)."""
    principal = _actor(principal)
    _require(principal, STAFF + ("window",))
    demand = load_demand(session, principal, demand_id, for_update=True)
    _open(demand)
    at = at or utcnow()
    items = []
    for item in data["institutions"]:
        row = _active_institution(session, item["institution_id"])
        items.append({"institution_id": row.id, "name": row.name, "reason": item.get("reason") or ""})
    _add_entry(session, demand, principal, "recommendation", {"institutions": items, "note": data.get("note") or ""})
    # A recommendation answers the demand too: if nobody responded first, that clock stops now.
    sla.stop_clock(session, (RESPONSE_RULE, SUBJECT, demand.id), at=at, missing_ok=True)
    sla.stop_clock(session, (RECOMMENDATION_RULE, SUBJECT, demand.id), at=at, missing_ok=True)
    if demand.status in ("published", "responded"):
        demand.status = "recommended"
    record_event(session, SOURCE, "demand.recommended", demand.id, {
        "demand_id": demand.id, "enterprise_user_id": demand.enterprise_user_id,
        "institution_ids": [i["institution_id"] for i in items], "recommended_at": _iso(at)})
    return demand_view(session, demand)


def refer(session: Session, principal: dict, demand_id: str, data: dict, at: dt.datetime | None = None) -> dict:
    """No platform institution can serve: record the outside one and tell the enterprise (R-6.3.2.3)."""
    principal = _actor(principal)
    _require(principal, STAFF)
    demand = load_demand(session, principal, demand_id, for_update=True)
    _open(demand)
    at = at or utcnow()
    entry = _add_entry(session, demand, principal, "referral", {
        "external_name": data["external_name"], "external_contact": data.get("external_contact") or "",
        "reason": data["reason"], "note": data.get("note") or ""})
    sla.stop_clock(session, (RESPONSE_RULE, SUBJECT, demand.id), at=at, missing_ok=True)
    sla.stop_clock(session, (RECOMMENDATION_RULE, SUBJECT, demand.id), at=at, missing_ok=True)
    demand.status = "referred"
    record_event(session, SOURCE, "demand.referred", demand.id, {
        "demand_id": demand.id, "enterprise_user_id": demand.enterprise_user_id, "referral_id": entry.id,
        "referred_at": _iso(at)})
    audit(session, principal, "demand.refer", "demand", demand.id, owner_id=demand.enterprise_user_id,
          detail={"referral_id": entry.id})
    return demand_view(session, demand)


def engage(session: Session, principal: dict, demand_id: str, data: dict, at: dt.datetime | None = None) -> dict:
    """The enterprise (or staff for it) connects with a platform institution (R-6.3.2.2)."""
    principal = _actor(principal)
    _require(principal, ("enterprise",) + STAFF + ("window",))
    demand = load_demand(session, principal, demand_id, for_update=True)
    _open(demand)
    row = _active_institution(session, data["institution_id"])
    at = at or utcnow()
    entry = _add_entry(session, demand, principal, "engagement", {
        "institution_id": row.id, "institution_name": row.name, "agreed_items": data["agreed_items"],
        "agreed_cycle_working_days": data.get("agreed_cycle_working_days"),
        "first_contact_at": data.get("first_contact_at"), "first_contact_notes": data.get("first_contact_notes") or ""})
    demand.institution_id = row.id
    demand.status = "connected"
    record_event(session, SOURCE, "demand.connected", demand.id, {
        "demand_id": demand.id, "enterprise_user_id": demand.enterprise_user_id, "institution_id": row.id,
        "engagement_id": entry.id, "connected_at": _iso(at)})
    return demand_view(session, demand)


def follow_up(session: Session, principal: dict, demand_id: str, data: dict) -> dict:
    """A problem, a coordination step or a progress note, until the service ends (R-6.3.2.4)."""
    principal = _actor(principal)
    _require(principal, ("enterprise",) + STAFF + ("window",))
    demand = load_demand(session, principal, demand_id, for_update=True)
    _open(demand)
    _add_entry(session, demand, principal, "follow_up", {"topic": data.get("kind") or "note", "note": data["note"]})
    return demand_view(session, demand)


def close(session: Session, principal: dict, demand_id: str, data: dict, at: dt.datetime | None = None) -> dict:
    """End a demand. A withdrawal cancels the open SLA clocks; otherwise a clock still open
    was not met: breached if past due, else cancelled (R-6.3.2.1); see WITHDRAWN and DISMISSALS."""
    principal = _actor(principal)
    _require(principal, ("enterprise",) + STAFF)
    outcome, note = data["outcome"], (data.get("note") or "").strip()
    is_enterprise = principal["role"] == "enterprise"
    if outcome == WITHDRAWN and not is_enterprise:
        # Otherwise staff could make their own lateness disappear by "withdrawing".
        raise ValidationFailed("Only the enterprise withdraws its demand / 仅企业本人可撤回需求",
                               errors={"outcome": ["withdrawn: enterprise only / 仅企业本人可撤回"]})
    if outcome in DISMISSALS:
        if is_enterprise:
            raise ValidationFailed("Rejected/duplicate are for platform staff / 驳回、重复仅限平台人员",
                                   errors={"outcome": [f"{outcome}: staff only / 仅限平台人员"]})
        if not note:
            raise ValidationFailed("Give the reason in note / 请在备注中说明理由",
                                   errors={"note": [f"required for outcome {outcome} / 必填"]})
    demand = load_demand(session, principal, demand_id, for_update=True)
    _open(demand)
    at = at or utcnow()
    clocks = [c for c in (sla.find_clock(session, rule, SUBJECT, demand.id)
                          for rule in (RESPONSE_RULE, RECOMMENDATION_RULE)) if c is not None]
    unanswered = any(c.rule == RESPONSE_RULE for c in clocks)
    if unanswered and not is_enterprise and outcome not in DISMISSALS:
        # Closing is not answering: staff first respond, or dismiss it with a reason.
        raise Conflict("The demand has no response yet; respond first, or close it as rejected/duplicate with a "
                       "reason / 需求尚未响应：请先响应，或以驳回/重复结案并说明理由", code="demand_unanswered")
    for clock in clocks:
        if outcome == WITHDRAWN:
            sla.cancel_clock(session, clock, at=at)
        elif clock.rule == RESPONSE_RULE and outcome in DISMISSALS:
            # Staff's dismissal with its reason is the platform's answer to the demand.
            sla.stop_clock(session, clock, at=at)
        else:
            _end_unanswered(session, clock, at)
    _add_entry(session, demand, principal, "closing", {"outcome": outcome, "note": note})
    demand.status = "closed"
    demand.outcome = outcome
    demand.closed_at = at
    record_event(session, SOURCE, "demand.closed", demand.id, {
        "demand_id": demand.id, "enterprise_user_id": demand.enterprise_user_id,
        "institution_id": demand.institution_id, "closed_at": _iso(at), "outcome": outcome})
    return demand_view(session, demand)


def _end_unanswered(session: Session, clock: sla.SlaClock, at: dt.datetime) -> None:
    """The demand closes before what this clock waited for (a response, a recommendation)
    happened, so the clock is never met. Past due it is breached (stop_clock judges
    it so, counting a breach once); before due nothing was late and the obligation
    ended with the demand, so it is cancelled."""
    if clock.calendar_gap:
        sla.recompute_due(session, clock)
    if clock.due_at is None:
        # The due day lies in the first year the calendar lacks: a close before that
        # year is certainly before due; later, stop_clock refuses to guess (503).
        year = local_date(clock.started_at).year
        while get_calendar().is_covered(year):
            year += 1
        late = local_date(at).year >= year
    else:
        late = clock.overdue or at > clock.due_at
    if late:
        sla.stop_clock(session, clock, at=at)
    else:
        sla.cancel_clock(session, clock, at=at)


# -- SLA list ----------------------------------------------------------------------------------
def sla_demands(session: Session, principal: dict, state: str | None = None, now: dt.datetime | None = None) -> dict:
    """Running demand clocks: overdue, due soon, or (no state) all of them, soonest due first."""
    principal = _actor(principal)
    _require(principal, READERS)
    now = now or utcnow()
    # calendar_gap: clocks without a due date until the year's notice is loaded (open
    # ones, and stops whose verdict waits for it); overdue is due_at against now.
    states = list(sla.OPEN_STATES) + [sla.STOPPED] if state == "calendar_gap" else sla.RUNNING
    clocks = [c for c in sla.list_clocks(session, state=states)
              if c.subject_type == SUBJECT and c.rule in (RESPONSE_RULE, RECOMMENDATION_RULE)]
    if state is not None:
        clocks = [c for c in clocks if sla.due_state(c, now) == state]
    demands = {d.id: d for d in session.scalars(select(Demand).where(Demand.id.in_({c.subject_id for c in clocks})))}
    items = [{"demand": demand_view(session, demands[c.subject_id], detail=False), "clock": sla.clock_view(c, now)}
             for c in clocks if c.subject_id in demands]
    return {"state": state or "all", "items": items, "total": len(items)}


# -- visits (R-6.3.1.2) ----------------------------------------------------------------------------
def visit_view(session: Session, visit: Visit) -> dict:
    demand_ids = list(session.scalars(select(Demand.id).where(Demand.visit_id == visit.id).order_by(Demand.created_at)))
    return {"id": visit.id, "window_id": visit.window_id, "staff_user_id": visit.staff_user_id,
            "enterprise_user_id": visit.enterprise_user_id, "enterprise_name": visit.enterprise_name,
            "visited_on": visit.visited_on.isoformat(), "notes": visit.notes, "recorded_at": _iso(visit.visited_at),
            "demand_ids": demand_ids}


def log_visit(session: Session, principal: dict, window_id: str | None, data: dict,
              enterprise_lookup: EnterpriseLookup | None = None) -> dict:
    principal = _actor(principal)
    _require(principal, ("window",))
    if not window_id:
        raise Forbidden("Your account is not bound to a window / 账号未绑定服务窗口", code="no_window")
    if data.get("demands") and not data.get("enterprise_user_id"):
        raise ValidationFailed("Demands collected on a visit need the enterprise's account / 需填写企业账号",
                               errors={"enterprise_user_id": ["required when demands are given"]})
    if data.get("enterprise_user_id"):
        # The visit links to the account as much as its demands do: check it even without demands.
        check_enterprise(enterprise_lookup, data["enterprise_user_id"])
    visit = Visit(window_id=window_id, staff_user_id=str(principal["user_id"]),
                  enterprise_user_id=data.get("enterprise_user_id"), enterprise_name=data["enterprise_name"],
                  visited_on=dt.date.fromisoformat(str(data["visited_on"])), notes=data.get("notes") or "", visited_at=utcnow())
    session.add(visit)
    session.flush()
    for item in data.get("demands") or []:
        publish(session, principal, {**item, "enterprise_user_id": data["enterprise_user_id"], "channel": "visit",
                                     "visit_id": visit.id}, enterprise_lookup=enterprise_lookup)
    return visit_view(session, visit)


def list_visits(session: Session, principal: dict, window_id: str | None, limit: int = 50) -> dict:
    principal = _actor(principal)
    query = select(Visit)
    if principal["role"] == "window":
        if not window_id:
            return {"items": [], "total": 0}
        query = query.where(Visit.window_id == window_id)
    elif principal["role"] not in READERS:
        raise Forbidden("Not allowed / 无权查看走访记录")
    rows = list(session.scalars(query.order_by(Visit.visited_at.desc(), Visit.id).limit(limit)))
    return {"items": [visit_view(session, v) for v in rows], "total": len(rows)}


def get_visit(session: Session, principal: dict, window_id: str | None, visit_id: str) -> dict:
    principal = _actor(principal)
    visit = session.get(Visit, visit_id)
    allowed = visit is not None and (principal["role"] in READERS
                                     or (principal["role"] == "window" and window_id and visit.window_id == window_id))
    if not allowed:
        raise NotFound("No such visit / 走访记录不存在", code="visit_not_found")
    return visit_view(session, visit)


# -- packages (R-4.2.2.1) -------------------------------------------------------------------------------
def package_groups(session: Session, principal: dict, min_size: int = 2) -> dict:
    """Open same-kind demands of different enterprises, grouped by industry, category, item, product."""
    principal = _actor(principal)
    _require(principal, STAFF)
    rows = session.scalars(select(Demand).where(Demand.status.in_(("published", "responded", "recommended")),
                                                Demand.package_id.is_(None)).order_by(Demand.created_at))
    groups: dict[tuple, list[Demand]] = defaultdict(list)
    for d in rows:
        groups[(d.industry or "", d.category, d.item_code or "", (d.product or "").strip())].append(d)
    out = []
    for (industry, category, item_code, product), members in groups.items():
        enterprises = {d.enterprise_user_id for d in members}
        if len(enterprises) >= min_size:
            out.append({"industry": industry or None, "category": category, "item_code": item_code or None,
                        "product": product or None, "demand_ids": [d.id for d in members],
                        "enterprise_count": len(enterprises)})
    out.sort(key=lambda g: (-g["enterprise_count"], g["category"], g["item_code"] or "", g["product"] or ""))
    return {"items": out}


def create_package(session: Session, principal: dict, data: dict) -> dict:
    principal = _actor(principal)
    _require(principal, STAFF)
    row = _active_institution(session, data["institution_id"])
    demands = list(session.scalars(select(Demand).where(Demand.id.in_(data["demand_ids"])).with_for_update()))
    if len(demands) != len(set(data["demand_ids"])):
        raise ValidationFailed("Unknown demand in the package / 包含不存在的需求", errors={"demand_ids": ["unknown id"]})
    kinds = {(d.category, d.item_code, (d.product or "").strip()) for d in demands}
    if len(kinds) != 1:
        raise ValidationFailed("A package holds demands of one kind / 打包的需求须同类",
                               errors={"demand_ids": ["category, item and product must agree"]})
    if any(d.package_id or d.status == "closed" for d in demands):
        raise Conflict("A demand is already packaged or closed / 需求已打包或已结束", code="demand_not_packable")
    category, item_code, product = kinds.pop()
    price = to_money(data["package_price_yuan"])
    package = Package(title=data["title"], industry=data.get("industry"), category=category, item_code=item_code,
                      product=product or None, institution_id=row.id, window_id=data.get("window_id"),
                      package_price_yuan=price, created_by=str(principal["user_id"]),
                      created_at=utcnow())
    session.add(package)
    session.flush()
    # Equal shares in whole fen, the remainder to the first demands, so shares add up exactly.
    base, extra = divmod(int(price / CENT), len(demands))
    for i, d in enumerate(sorted(demands, key=lambda d: d.id)):
        share = (base + (1 if i < extra else 0)) * CENT
        session.add(PackageMember(package_id=package.id, demand_id=d.id, enterprise_user_id=d.enterprise_user_id,
                                  share_yuan=share))
        d.package_id = package.id
    session.flush()
    record_event(session, SOURCE, "package.created", package.id, {
        "package_id": package.id, "institution_id": row.id, "demand_ids": sorted(d.id for d in demands),
        "package_price_yuan": money_str(price)})
    return package_view(session, principal, package)


def package_view(session: Session, principal: dict, package: Package) -> dict:
    members = list(session.scalars(select(PackageMember).where(PackageMember.package_id == package.id)
                                   .order_by(PackageMember.demand_id)))
    if principal["role"] == "enterprise":
        members = [m for m in members if m.enterprise_user_id == str(principal["user_id"])]
    return {"id": package.id, "title": package.title, "industry": package.industry, "category": package.category,
            "item_code": package.item_code, "product": package.product, "institution_id": package.institution_id,
            "window_id": package.window_id, "created_at": _iso(package.created_at),
            "package_price_yuan": money_str(package.package_price_yuan) if principal["role"] != "enterprise" else None,
            "members": [{"demand_id": m.demand_id, "enterprise_user_id": m.enterprise_user_id,
                         "share_yuan": money_str(m.share_yuan)} for m in members]}


def get_package(session: Session, principal: dict, package_id: str) -> dict:
    principal = _actor(principal)
    package = session.get(Package, package_id)
    if package is None:
        raise NotFound("No such package / 打包服务不存在", code="package_not_found")
    if principal["role"] == "enterprise":
        if session.scalar(select(func.count()).select_from(PackageMember).where(
                PackageMember.package_id == package_id,
                PackageMember.enterprise_user_id == str(principal["user_id"]))) == 0:
            raise NotFound("No such package / 打包服务不存在", code="package_not_found")
    elif principal["role"] not in READERS:
        raise Forbidden("Not allowed / 无权查看")
    return package_view(session, principal, package)
