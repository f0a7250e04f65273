"""The service catalogue (clause 5): 8 categories and their items, as data.

The initial content is `data/catalogue.json` (every item named in 5.1-5.8);
`ensure_loaded` adds what is missing and never overwrites an operator's edit.
Every change publishes `catalogue.changed` with the whole catalogue, so a
subscriber replaces its copy instead of merging deltas.

    python -m services.registry.catalogue     # load into the configured database
"""
from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.audit import audit
from services.common.db import utcnow
from services.common.errors import Conflict, NotFound
from services.common.outbox import record_event
from services.common.platform import OPERATORS

from .models import CatalogItem, Category, GuideVersion

SOURCE = "registry"
CATALOGUE_FILE = Path(__file__).with_name("data") / "catalogue.json"


def load_file(path: Path = CATALOGUE_FILE) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def ensure_loaded(session: Session, path: Path = CATALOGUE_FILE) -> int:
    """Insert categories and items that are missing; returns how many rows were added."""
    doc = load_file(path)
    added = 0
    for c_index, cat in enumerate(doc["categories"]):
        if session.get(Category, cat["code"]) is None:
            session.add(Category(code=cat["code"], name_zh=cat["name_zh"], name_en=cat["name_en"],
                                 clause=cat.get("clause"), sort=c_index))
            added += 1
        session.flush()
        for i_index, item in enumerate(cat["items"]):
            if session.get(CatalogItem, item["code"]) is None:
                session.add(CatalogItem(code=item["code"], category_code=cat["code"], name_zh=item["name_zh"],
                                        name_en=item["name_en"], clause=item.get("clause"), public=True,
                                        sort=i_index, updated_at=utcnow()))
                added += 1
    session.flush()
    if added:
        publish_snapshot(session)
    return added


def snapshot(session: Session, public_only: bool = False) -> list[dict]:
    current = {g.item_code: g.version for g in session.scalars(select(GuideVersion).where(GuideVersion.current))}
    items_by_cat: dict[str, list[dict]] = {}
    for item in session.scalars(select(CatalogItem).order_by(CatalogItem.category_code, CatalogItem.sort,
                                                              CatalogItem.code)):
        if public_only and not item.public:
            continue
        items_by_cat.setdefault(item.category_code, []).append({
            "code": item.code, "category_code": item.category_code, "name_zh": item.name_zh,
            "name_en": item.name_en, "clause": item.clause, "public": item.public,
            "guide_version": current.get(item.code)})
    return [{"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en, "clause": c.clause,
             "items": items_by_cat.get(c.code, [])}
            for c in session.scalars(select(Category).order_by(Category.sort))]


def publish_snapshot(session: Session) -> dict:
    categories = [{"code": c["code"], "name_zh": c["name_zh"], "name_en": c["name_en"],
                   "items": [{"code": i["code"], "name_zh": i["name_zh"], "name_en": i["name_en"]}
                             for i in c["items"] if i["public"]]}
                  for c in snapshot(session)]
    return record_event(session, SOURCE, "catalogue.changed", "catalogue", {"categories": categories})


def get_item(session: Session, code: str) -> CatalogItem:
    item = session.get(CatalogItem, code)
    if item is None:
        raise NotFound(f"No catalogue item {code} / 服务事项不存在", code="item_not_found")
    return item


def list_items(session: Session, category: str | None = None, public_only: bool = True) -> list[dict]:
    return [item for cat in snapshot(session, public_only=public_only) if category in (None, cat["code"])
            for item in cat["items"]]


def create_item(session: Session, principal: dict, data: dict) -> dict:
    if session.get(CatalogItem, data["code"]) is not None:
        raise Conflict(f"Item {data['code']} exists / 服务事项已存在", code="item_exists")
    if session.get(Category, data["category_code"]) is None:
        raise NotFound("Unknown category / 类别不存在", code="category_not_found")
    session.add(CatalogItem(code=data["code"], category_code=data["category_code"], name_zh=data["name_zh"],
                            name_en=data["name_en"], clause=data.get("clause"), public=data.get("public", True),
                            sort=999, updated_at=utcnow()))
    session.flush()
    audit(session, principal, "catalogue.item_created", "catalog_item", data["code"])
    publish_snapshot(session)
    return item_view(session, data["code"])


def update_item(session: Session, principal: dict, code: str, data: dict) -> dict:
    """Change name or visibility; an update that changes nothing writes nothing
    (no audit row, no `catalogue.changed`) and returns the item as it is."""
    item = get_item(session, code)
    before = {k: getattr(item, k) for k in data}
    if before == data:
        return item_view(session, code)
    for key, value in data.items():
        setattr(item, key, value)
    item.updated_at = utcnow()
    session.flush()
    audit(session, principal, "catalogue.item_updated", "catalog_item", code, detail={"before": before, "after": data})
    publish_snapshot(session)
    return item_view(session, code)


def shown_item(session: Session, code: str, principal: dict | None = None) -> dict:
    """One item as the caller may see it: a hidden item does not exist for the public."""
    item = item_view(session, code)
    if not item["public"] and (principal is None or principal["role"] not in OPERATORS):
        raise NotFound(f"No catalogue item {code} / 服务事项不存在", code="item_not_found")
    return item


def item_view(session: Session, code: str) -> dict:
    for item in list_items(session, public_only=False):
        if item["code"] == code:
            return item
    raise NotFound(f"No catalogue item {code} / 服务事项不存在", code="item_not_found")


def main() -> None:
    from services.common.db import Database, engine_for

    db = Database(engine_for("registry"))
    with db.transaction() as session:
        print(f"catalogue rows added: {ensure_loaded(session)}")


if __name__ == "__main__":
    main()
