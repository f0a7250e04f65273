"""The end of a demand's service (R-6.3.2.1, R-6.3.2.4): the outcome, what becomes of the SLA
clocks, and the `demand.closed` event that carries the finished-service block feedback evaluates.

A withdrawal (the enterprise's own) cancels the open SLA clocks: the demand went
away, so there is nothing left to be late for. Any other closing never counts as
the answer a clock still waits for (see end_unanswered): a clock past due is
breached, so that closing cannot hide a late answer; one not yet due is cancelled.
Staff's dismissals (rejected, duplicate) need a reason and are the only way for
staff to close a demand that has had no response yet.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common import platform, sla
from services.common.db import utcnow
from services.common.errors import Conflict, ValidationFailed
from services.common.outbox import record_event
from services.common.workdays import get_calendar, local_date

from .contract.vocabulary import DISMISSALS, WITHDRAWN
from .demands import (RESPONSE_RULE, RULES, SOURCE, SUBJECT, add_entry, clock_attribution, detail, ensure_open, iso,
                      load_demand, window_of_demand)
from .models import Demand, DemandEntry
from .shown import Shown

# Timeline entries that are the platform's own answer to a demand: whoever gave the
# first one handled it (feedback never lets the handler evaluate the service).
ANSWERS = ("response", "recommendation", "referral")


def close(session: Session, principal: dict, demand_id: str, data: dict, at: dt.datetime | None = None) -> Shown:
    """End a demand. A withdrawal cancels the open SLA clocks; otherwise a clock still open
    was not met: breached if past due, else cancelled (R-6.3.2.1); see WITHDRAWN and DISMISSALS."""
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
    ensure_open(demand)
    at = at or utcnow()
    clocks = [c for c in (sla.find_clock(session, rule, SUBJECT, demand.id) for rule in RULES) if c is not None]
    unanswered = any(c.rule == RESPONSE_RULE for c in clocks)
    if unanswered and not is_enterprise and outcome not in DISMISSALS:
        # Closing is not answering: staff first respond, or dismiss it with a reason.
        raise Conflict("The demand has no response yet; respond first, or close it as rejected/duplicate with a "
                       "reason / 需求尚未响应：请先响应，或以驳回/重复结案并说明理由", code="demand_unanswered")
    # Attributed as the start and the answers are (demands.clock_attribution): a breach at closing
    # counts for the demand's window too, not for the platform only.
    attribution = clock_attribution(session, demand, principal)
    for clock in clocks:
        if outcome == WITHDRAWN:
            sla.cancel_clock(session, clock, at=at, **attribution)
        elif clock.rule == RESPONSE_RULE and outcome in DISMISSALS:
            # Staff's dismissal with its reason is the platform's answer to the demand.
            sla.stop_clock(session, clock, at=at, **attribution)
        else:
            end_unanswered(session, clock, at, attribution)
    add_entry(session, demand, principal, "closing", {"outcome": outcome, "note": note})
    demand.status = "closed"
    demand.outcome = outcome
    demand.closed_at = at
    record_event(session, SOURCE, "demand.closed", demand.id, {
        "demand_id": demand.id, "enterprise_user_id": demand.enterprise_user_id,
        "institution_id": demand.institution_id, "closed_at": iso(at), "outcome": outcome,
        "evaluation": finished_service(session, demand, principal, at)})
    return detail(session, demand)


def finished_service(session: Session, demand: Demand, closer: dict, at: dt.datetime) -> dict:
    """The finished-service block (services.common.evaluation.FinishedService) of a closed demand.

    window_id: the window whose visit collected the demand, else null. handler_id: the
    staff member who gave the platform's first answer (response, recommendation or
    referral); else the staff member who filed it for the enterprise, else whoever of
    the staff closed it; null when no staff member ever acted on it.
    """
    window_id = window_of_demand(session, demand)
    handler = session.scalar(select(DemandEntry.actor_user_id).where(
        DemandEntry.demand_id == demand.id, DemandEntry.kind.in_(ANSWERS),
        DemandEntry.actor_role.in_(platform.PLATFORM_STAFF)).order_by(DemandEntry.seq).limit(1))
    if handler is None and demand.entered_by != demand.enterprise_user_id:
        handler = demand.entered_by
    if handler is None and closer["role"] in platform.PLATFORM_STAFF:
        handler = str(closer["user_id"])
    return {"service_type": "demand", "service_id": demand.id, "enterprise_id": demand.enterprise_user_id,
            "institution_id": demand.institution_id, "window_id": window_id, "handler_id": handler,
            "finished_at": iso(at)}


def end_unanswered(session: Session, clock: sla.SlaClock, at: dt.datetime, attribution: dict | None = None) -> None:
    """The demand closes before what this clock waited for (a response, a recommendation)
    happened, so the clock is never met. Past due it is breached (stop_clock judges
    it so, counting a breach once); before due nothing was late and the obligation
    ended with the demand, so it is cancelled. `attribution` (institution_id, window_id:
    demands.clock_attribution) goes with either."""
    attribution = attribution or {}
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
        sla.stop_clock(session, clock, at=at, **attribution)
    else:
        sla.cancel_clock(session, clock, at=at, **attribution)
