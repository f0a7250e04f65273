"""The public API's route table: every service's contract, plus the few routes that compose services.

Operations are declared in the services' contracts (services/<name>/contract) and
become routes in contract_routes. A service whose contract has not landed yet
still has a hand-written table in routes_<service>.py. What is written here by
hand composes several services and so belongs to no single contract.
"""
from __future__ import annotations

import importlib

from services.common import platform
from services.common.schemas import SlaClockOut

from .contract_routes import contract_routes
from .routing import Route
from .schemas import SlaClockQuery

STAFF_READERS = platform.STAFF_READERS
ROUTES, SERVICES = contract_routes()
CONTRACT_SERVICES = tuple(SERVICES)


# Which service keeps open SLA clocks, and the RPC that lists them for staff: a contract says
# it (Contract.open_clocks); services still on hand-written routes are listed here.
LEGACY_CLOCK_SOURCES = {"identity": "list_open_clocks", "registry": "list_review_clocks",
                        "matching": "list_open_clocks"}


def clock_sources() -> dict[str, str]:
    from .contract_routes import contract_of
    sources = {}
    for service in SERVICES:
        method = contract_of(service).open_clocks if service in CONTRACT_SERVICES else LEGACY_CLOCK_SOURCES.get(service)
        if method:
            sources[service] = method
    return sources


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


def _extend(service: str) -> None:
    """Add a service's hand-written routes (a service whose contract has not landed yet)."""
    if service in SERVICES or not platform.is_present(service):
        return
    try:
        module = importlib.import_module(f"services.gateway.routes_{service}")
    except ModuleNotFoundError as exc:
        if exc.name != f"services.gateway.routes_{service}":
            raise
        return
    ROUTES.extend(module.ROUTES)
    SERVICES.append(service)


for _service in platform.names():
    _extend(_service)

ROUTES.append(Route("GET", "/sla/clocks", sla_clocks, "All open time limits, soonest due first (staff) / 全平台时限",
                    "sla", query=SlaClockQuery, response=SlaClockOut, many=True, roles=STAFF_READERS))
