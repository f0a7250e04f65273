"""The public API's route table: every service's contract, plus the routes that compose services.

Operations are declared in the services' contracts (services/<name>/contract) and
become routes in contract_routes. What is written here by hand composes several
services and so belongs to no single contract: today only GET /sla/clocks.
"""
from __future__ import annotations

from services.common import platform
from services.common.schemas import SlaClockOut

from .contract_routes import contract_of, contract_routes
from .routing import Route
from .schemas import SlaClockQuery

ROUTES, SERVICES = contract_routes()


def clock_sources() -> dict[str, str]:
    """Service -> the staff RPC listing its open SLA clocks, as its contract declares (open_clocks)."""
    return {service: contract_of(service).open_clocks for service in SERVICES if contract_of(service).open_clocks}


def sla_clocks(ctx):
    # Written by hand: it composes every service that keeps clocks into one list.
    """Every open time limit of the platform in one list, soonest due first (R-6.1.2, R-6.3.2.1)."""
    clocks = []
    for service, method in clock_sources().items():
        clocks.extend(ctx.call(service, method, overdue=ctx.query.get("overdue"),
                               calendar_gap=ctx.query.get("calendar_gap")))
    if ctx.query.get("due_soon") is not None:
        clocks = [c for c in clocks if bool(c.get("due_soon")) == ctx.query["due_soon"]]
    return sorted(clocks, key=lambda c: (c.get("due_at") is None, c.get("due_at") or "", c["id"]))


ROUTES.append(Route("GET", "/sla/clocks", sla_clocks, "All open time limits, soonest due first (staff) / 全平台时限",
                    "sla", query=SlaClockQuery, response=SlaClockOut, many=True, roles=platform.STAFF_READERS))
