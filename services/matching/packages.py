"""Packages (R-4.2.2.1): same-kind demands of several enterprises served by one institution window.

Shares are equal in whole fen, the remainder to the first demands, so they add up exactly.
"""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.db import utcnow
from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.common.money import CENT, money_str, to_money
from services.common.outbox import record_event

from .contract.vocabulary import PACKABLE_STATUSES
from .demands import READERS, SOURCE, active_institution, actor
from .models import Demand, Package, PackageMember
from .shown import Shown


def package_groups(session: Session, principal: dict, min_size: int = 2) -> dict:
    """Open same-kind demands of different enterprises, grouped by industry, category, item, product."""
    principal = actor(principal)
    rows = session.scalars(select(Demand).where(Demand.status.in_(PACKABLE_STATUSES),
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


def create_package(session: Session, principal: dict, data: dict) -> Shown:
    principal = actor(principal)
    row = active_institution(session, data["institution_id"])
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
    return shown(session, principal, package)


def shown(session: Session, principal: dict, package: Package) -> Shown:
    """A package as its reader may see it: an enterprise sees its own demands' shares and no total price."""
    members = list(session.scalars(select(PackageMember).where(PackageMember.package_id == package.id)
                                   .order_by(PackageMember.demand_id)))
    if principal["role"] != "enterprise":
        return Shown(package, members=members)
    return Shown(package, package_price_yuan=None,
                 members=[m for m in members if m.enterprise_user_id == str(principal["user_id"])])


def get_package(session: Session, principal: dict, package_id: str) -> Shown:
    principal = actor(principal)
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
    return shown(session, principal, package)
