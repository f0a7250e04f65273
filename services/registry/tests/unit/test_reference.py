"""Reference data without the demo seed: a fresh deployment has the catalogue (clause 5)."""
from __future__ import annotations

from sqlalchemy import func, select

from services.common import migrate
from services.common.db import Database, make_engine
from services.registry import catalogue
from services.registry.models import CatalogItem, Category, GuideVersion

from ..helpers import events

CATEGORIES = ["standardization", "metrology", "testing", "certification", "quality", "brand", "ip", "other"]


def _fresh(tmp_path, monkeypatch):
    monkeypatch.setenv("QI_DATA_DIR", str(tmp_path))
    url = f"sqlite:///{tmp_path / 'fresh-registry.db'}"
    return url, Database(make_engine(url))


def test_fresh_database_has_the_catalogue_after_upgrade(tmp_path, monkeypatch):
    url, db = _fresh(tmp_path, monkeypatch)
    summary = migrate.upgrade("registry", url)
    expected_items = sum(len(c["items"]) for c in catalogue.load_file()["categories"])
    assert summary == {"catalogue_rows": 8 + expected_items}
    with db.read() as session:
        assert [c["code"] for c in catalogue.snapshot(session, public_only=True)] == CATEGORIES
        assert session.scalar(select(func.count()).select_from(CatalogItem)) == expected_items
        # guides are the deployment's own text, published by an operator, not reference data
        assert session.scalar(select(func.count()).select_from(GuideVersion)) == 0
    # subscribers (matching) learn the catalogue from the usual event
    [changed] = events(db, "catalogue.changed")
    assert [c["code"] for c in changed["data"]["categories"]] == CATEGORIES
    db.engine.dispose()


def test_upgrade_again_adds_nothing_and_keeps_operator_edits(tmp_path, monkeypatch):
    url, db = _fresh(tmp_path, monkeypatch)
    migrate.upgrade("registry", url)
    with db.transaction() as session:
        item = session.scalars(select(CatalogItem).order_by(CatalogItem.code)).first()
        code = item.code
        item.name_zh = "运营人员改过的名称"
        item.public = False
    assert migrate.upgrade("registry", url) == {"catalogue_rows": 0}
    with db.read() as session:
        again = session.get(CatalogItem, code)
        assert (again.name_zh, again.public) == ("运营人员改过的名称", False)
        assert session.scalar(select(func.count()).select_from(Category)) == 8
    assert len(events(db, "catalogue.changed")) == 1
    db.engine.dispose()


def test_hook_is_generic_a_service_without_reference_module_is_untouched(monkeypatch):
    assert migrate.load_reference("identity") is None          # identity has no reference module
    # a reference module without load() is ignored as well
    import sys
    import types
    monkeypatch.setitem(sys.modules, "services.fake_svc", types.ModuleType("services.fake_svc"))
    monkeypatch.setitem(sys.modules, "services.fake_svc.reference", types.ModuleType("services.fake_svc.reference"))
    assert migrate.load_reference("fake_svc") is None
