"""Issue 8 point 12 on both databases (SQLite and PostgreSQL): money is Decimal from the
column to the JSON string, the Float->Numeric migration keeps the data, closing a
demand without the awaited action never meets its clock, GET /sla/demands without a
state lists all, and a catalogue update that changes nothing writes nothing."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import sqlalchemy as sa
from alembic import command

from services.common import contracts, migrate
from services.common.audit import AuditEntry
from services.common.db import Database, make_engine
from services.common.outbox import OutboxEvent
from services.matching import clocks as demand_clocks, closing, demands, handling, index, packages, search
from services.matching.models import Demand, IndexedCapability, Package, PackageMember
from services.matching.tests.helpers import (ENTERPRISE, OPERATOR, OTHER_ENTERPRISE, capability, profile, profile_event,
                                             shown)

pytestmark = pytest.mark.integration

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
RESPONSE, RECOMMENDATION = "matching.demand_response", "matching.demand_recommendation"
DEMAND = {"title": "电线电缆导体电阻检测", "category": "testing", "product": "电线电缆", "item_code": "tst.matching"}


def utc(*args):
    return dt.datetime(*args, tzinfo=SHANGHAI).astimezone(dt.timezone.utc).replace(tzinfo=None)


@pytest.fixture
def matching_db(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("QI_DATA_DIR", str(tmp_path))
    migrate.upgrade("matching", database_url)
    db = Database(make_engine(database_url))
    yield db
    db.engine.dispose()


def _publish(db, principal=ENTERPRISE, at=None, **overrides):
    with db.transaction() as session:
        return shown("publish_demand", demands.publish(session, principal, {**DEMAND, **overrides}, at=at))


def _clocks(view):
    return {c["rule"]: c["state"] for c in view["sla"]}


def _events(db, event_type):
    with db.read() as session:
        rows = session.scalars(sa.select(OutboxEvent).where(OutboxEvent.type == event_type))
        return [json.loads(r.body) for r in rows]


# -- money -------------------------------------------------------------------------------------------
def test_migration_turns_float_money_into_numeric_and_keeps_every_row(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("QI_DATA_DIR", str(tmp_path))
    cfg = migrate.alembic_config("matching", database_url)
    command.upgrade(cfg, "matching_0002")
    engine = make_engine(database_url)
    drifted = 0.1 + 0.2  # 0.30000000000000004: what float arithmetic left in the old columns
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO demand (id, enterprise_user_id, channel, entered_by, title, description, category, "
            "budget_yuan, status, created_at) VALUES ('d1', 'e1', 'online', 'e1', 't', '', 'testing', :b, "
            "'published', :at), ('d2', 'e2', 'online', 'e2', 't', '', 'testing', NULL, 'published', :at)"),
            {"b": 1999.99, "at": dt.datetime(2026, 9, 14)})
        conn.execute(sa.text(
            "INSERT INTO package (id, title, category, institution_id, package_price_yuan, created_by, created_at) "
            "VALUES ('p1', 't', 'testing', 'i1', :p, 'op', :at)"), {"p": drifted, "at": dt.datetime(2026, 9, 14)})
        conn.execute(sa.text(
            "INSERT INTO package_member (package_id, demand_id, enterprise_user_id, share_yuan) VALUES "
            "('p1', 'd1', 'e1', :s1), ('p1', 'd2', 'e2', :s2)"), {"s1": 0.1, "s2": 0.2})
        conn.execute(sa.text(
            "INSERT INTO idx_capability (id, institution_id, category, standard_keys, price_yuan) VALUES "
            "('c1', 'i1', 'testing', ' ', :p), ('c2', 'i1', 'testing', ' ', NULL)"), {"p": drifted})
        # The defect: in float, the capability priced 0.1 + 0.2 is dearer than a 0.30 limit.
        assert conn.execute(sa.text("SELECT count(*) FROM idx_capability WHERE price_yuan <= 0.3")).scalar() == 0
    engine.dispose()

    migrate.upgrade("matching", database_url)

    db = Database(make_engine(database_url))
    with db.read() as session:
        assert session.get(Demand, "d1").budget_yuan == Decimal("1999.99")
        assert session.get(Demand, "d2").budget_yuan is None
        assert session.get(Package, "p1").package_price_yuan == Decimal("0.30")
        shares = [m.share_yuan for m in session.scalars(sa.select(PackageMember).order_by(PackageMember.demand_id))]
        assert shares == [Decimal("0.10"), Decimal("0.20")] and sum(shares) == Decimal("0.30")
        assert all(isinstance(s, Decimal) for s in shares)
        cheap = session.scalars(sa.select(IndexedCapability.id)
                                .where(IndexedCapability.price_yuan <= Decimal("0.30"))).all()
        assert cheap == ["c1"]
    db.engine.dispose()


def test_package_shares_are_whole_fen_and_add_up_exactly(matching_db):
    lab = profile()
    with matching_db.transaction() as session:
        index.apply_registry_event(session, profile_event(lab))
    third = {"user_id": "44444444-4444-4444-8444-444444444444", "role": "enterprise",
             "verification_level": "licence_reviewed"}
    members = [_publish(matching_db, principal=p)["id"] for p in (ENTERPRISE, OTHER_ENTERPRISE, third)]
    with matching_db.transaction() as session:
        package = shown("create_package", packages.create_package(session, OPERATOR, {
            "title": "三家企业批量检测", "institution_id": lab["institution_id"], "package_price_yuan": Decimal("0.30"),
            "demand_ids": members}))
    shares = [m["share_yuan"] for m in package["members"]]
    assert shares == ["0.10", "0.10", "0.10"] and package["package_price_yuan"] == "0.30"
    assert sum(Decimal(s) for s in shares) == Decimal("0.30")  # 0.1 + 0.1 + 0.1 in float is 0.30000000000000004
    with matching_db.read() as session:
        stored = [m.share_yuan for m in session.scalars(sa.select(PackageMember))]
    assert sum(stored) == Decimal("0.30")
    event = _events(matching_db, "package.created")[0]
    assert event["data"]["package_price_yuan"] == "0.30"
    contracts.validate_envelope(event)


def test_price_filter_compares_decimals_old_and_new_event_forms(matching_db):
    as_string = profile(capabilities=[capability(price="0.30")])  # how the registry publishes now
    as_number = profile(capabilities=[capability()])
    as_number["capabilities"][0]["price_yuan"] = 0.1 + 0.2        # an event written before, a JSON number
    dearer = profile(capabilities=[capability(price="0.31")])
    with matching_db.transaction() as session:
        for snap in (as_string, as_number, dearer):
            index.apply_registry_event(session, profile_event(snap))
    with matching_db.read() as session:
        found = search.search(session, {"category": "testing", "price_max": Decimal("0.30"), "limit": 20})
        prices = dict(session.execute(sa.select(IndexedCapability.institution_id, IndexedCapability.price_yuan)).all())
    assert {i["institution_id"] for i in found["items"]} == {as_string["institution_id"], as_number["institution_id"]}
    assert prices[as_number["institution_id"]] == Decimal("0.30")


# -- closing and the recommendation clock ----------------------------------------------------------------------
def test_closing_a_responded_demand_without_a_recommendation_never_meets_that_clock(matching_db):
    # Published Monday 14 Sep 2026: response due that day, recommendation due Thursday 17.
    early, late = (_publish(matching_db, at=utc(2026, 9, 14, 9, 0)) for _ in range(2))
    with matching_db.transaction() as session:
        for view in (early, late):
            handling.respond(session, OPERATOR, view["id"], {"message": "已收到"}, at=utc(2026, 9, 14, 10, 0))
        closed_early = shown("close_demand", closing.close(session, OPERATOR, early["id"], {"outcome": "completed"},
                                                           at=utc(2026, 9, 16, 9)))
        closed_late = shown("close_demand", closing.close(session, OPERATOR, late["id"], {"outcome": "unresolved"},
                                                          at=utc(2026, 9, 18, 9)))
    assert _clocks(closed_early) == {RESPONSE: "met", RECOMMENDATION: "cancelled"}
    assert _clocks(closed_late) == {RESPONSE: "met", RECOMMENDATION: "breached"}


@pytest.mark.parametrize("scenario", ["test_a_demand_collected_on_a_visit_starts_its_clocks_for_that_window",
                                      "test_a_breach_at_closing_counts_for_the_demands_window",
                                      "test_clocks_cancelled_at_closing_keep_the_demands_window",
                                      "test_the_staff_member_dismissing_an_enterprises_own_demand_attributes_its_verdict"])
def test_demand_clocks_are_attributed_at_start_answer_and_closing(matching_db, scenario):
    """The unit tests of services/matching/tests/unit/test_closing.py on this backend."""
    from services.matching.tests.unit import test_closing
    getattr(test_closing, scenario)(matching_db)


def test_sla_demands_without_a_state_lists_every_running_clock(matching_db):
    now = utc(2026, 9, 16, 9, 0)
    overdue = _publish(matching_db, at=utc(2026, 9, 14, 9, 0))      # response due 14 Sep: overdue
    fresh = _publish(matching_db, at=utc(2026, 9, 16, 8, 0))        # both due later
    with matching_db.read() as session:
        everything = shown("sla_demands", demand_clocks.sla_demands(session, OPERATOR, None, now=now))
        late = shown("sla_demands", demand_clocks.sla_demands(session, OPERATOR, "overdue", now=now))
    listed = {(i["demand"]["id"], i["clock"]["rule"]) for i in everything["items"]}
    assert listed == {(d["id"], r) for d in (overdue, fresh) for r in (RESPONSE, RECOMMENDATION)}
    assert everything["state"] == "all" and everything["total"] == 4
    assert {(i["demand"]["id"], i["clock"]["rule"]) for i in late["items"]} == {(overdue["id"], RESPONSE)}


# -- catalogue -------------------------------------------------------------------------------------------------
def test_a_catalogue_update_without_a_change_writes_no_event_and_no_audit_row(database_url, tmp_path, monkeypatch):
    from services.registry import catalogue
    monkeypatch.setenv("QI_DATA_DIR", str(tmp_path))
    migrate.upgrade("registry", database_url)
    db = Database(make_engine(database_url))

    def written():
        with db.read() as session:
            return (session.scalar(sa.select(sa.func.count()).select_from(OutboxEvent)),
                    session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)))

    try:
        with db.read() as session:
            item = catalogue.item_view(session, "met.calibration")
        before = written()
        with db.transaction() as session:
            same = catalogue.update_item(session, OPERATOR, "met.calibration",
                                         {"name_zh": item["name_zh"], "public": item["public"]})
        assert same == item and written() == before
        with db.transaction() as session:
            changed = catalogue.update_item(session, OPERATOR, "met.calibration", {"name_zh": "计量检定校准"})
        assert changed["name_zh"] == "计量检定校准"
        assert written() == (before[0] + 1, before[1] + 1)
    finally:
        db.engine.dispose()
