"""The platform's services and roles, declared once.

Everything that needs the list of services reads it from here: migrations (which
services own a database), the launcher (start order), the gateway (which RPC
proxies and contracts it loads), metrics ports, `deploy/postgres/init.sql` and
docker-compose (both checked against this table by services/common/tests).
A slice that has not landed yet is declared here too: its package simply has no
`service.py` (or no `contract`) and is skipped, so slices land without editing
this file.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    metrics_port: int
    database: bool = True       # owns a database (migrations, init.sql, QI_DB_URL)
    summary: str = ""


# In start order: services first, the gateway last (it pings them for /ready).
SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("identity", 9101, summary="accounts, real-name verification, sessions / 账户与实名"),
    ServiceSpec("registry", 9102, summary="catalogue, guides, institutions, windows, cases / 服务目录与机构"),
    ServiceSpec("matching", 9103, summary="search, demands, recommendations, standards / 需求对接"),
    ServiceSpec("booking", 9104, summary="shared instruments, bookings, window appointments / 仪器共享与预约"),
    ServiceSpec("feedback", 9105, summary="evaluations, complaints, rectification, statistics / 评价与监督"),
    ServiceSpec("delivery", 9106, summary="samples, report registry, metrology ledger / 样品与报告"),
    ServiceSpec("gateway", 9100, database=False, summary="the only HTTP front / 网关"),
)
BY_NAME = {s.name: s for s in SERVICES}


def spec(name: str) -> ServiceSpec:
    return BY_NAME[name]


def names() -> tuple[str, ...]:
    return tuple(s.name for s in SERVICES)


def with_database() -> tuple[str, ...]:
    return tuple(s.name for s in SERVICES if s.database)


def is_present(name: str) -> bool:
    """The service's code has landed (its package has a service module)."""
    return (REPO / "services" / name / "service.py").exists()


def present() -> tuple[str, ...]:
    return tuple(s.name for s in SERVICES if is_present(s.name))


def with_contract() -> tuple[str, ...]:
    """Services whose operations the gateway serves (they have `services.<name>.contract`)."""
    out = []
    for s in SERVICES:
        if s.name == "gateway" or not is_present(s.name):
            continue
        if importlib.util.find_spec(f"services.{s.name}.contract") is not None:
            out.append(s.name)
    return tuple(out)


# -- roles ---------------------------------------------------------------------------------
# Account roles (identity stores one per account) and the groups operations name.
ROLES = ("enterprise", "person", "institution", "window", "operator", "regulator", "admin")
CUSTOMER_ROLES = ("enterprise", "person")            # those served by the platform
STAFF_ROLES = ("window", "operator", "regulator", "admin")   # accounts created by an admin
OPERATORS = ("operator", "admin")                   # run the platform: may change its data
STAFF_READERS = ("operator", "admin", "regulator")  # may read everything; regulators never write
PLATFORM_STAFF = ("window", "operator", "admin")    # serve demands on the platform's side
APPLICANTS = ("enterprise", "institution", "person")  # may apply to become an institution
CUSTODY_PARTIES = ("enterprise", "window", "institution")  # hold a sample at some step of its custody
REPORT_HANDOVER = ("enterprise", "window")          # confirm a report reached the enterprise
ANY_SIGNED_IN = ()                                  # an operation's roles: any verified caller
PUBLIC = None                                       # an operation's roles: no token needed
