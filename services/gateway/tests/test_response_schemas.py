"""Response schemas lose nothing: views made by the real domain functions go through
the gateway's `dump_response` with the route's own schema and come out unchanged.

`dump_response` keeps only the fields a response schema declares, so a view field
missing from the schema would silently disappear from the HTTP response. Every check
here compares the dumped payload with the view itself, both as Python values and as
JSON text (so an int turned into a float, 800 -> 800.0, counts as a change too).
The scenarios walk each object through its life so that the optional, state-dependent
fields (timeline entries of every kind, package shares, review clocks, published
items, case logs, ...) are present at least once.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest

from services.common.db import Database, make_engine
from services.common.testing import copy_template, migrated_sqlite_template
from services.gateway.routes import ROUTES
from services.gateway.routing import dump_response

ROUTE_BY_ENDPOINT = {r.endpoint: r for r in ROUTES}


def check(endpoint: str, result):
    """`result` dumped through the response schema of `endpoint` is `result`, field for field."""
    route = ROUTE_BY_ENDPOINT[endpoint]
    assert route.response is not None, f"{endpoint} declares no response schema"
    assert result, f"{endpoint}: an empty result proves nothing"
    dumped = dump_response(route, result)
    assert dumped == result, f"{endpoint}: {_difference(result, dumped)}"
    assert json.dumps(dumped, sort_keys=True, ensure_ascii=False) == json.dumps(result, sort_keys=True,
                                                                                  ensure_ascii=False), endpoint
    return result


def _difference(expected, actual, path="$"):
    """The first place where the dump differs from the view, for a readable failure."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in expected:
            if key not in actual:
                return f"{path}.{key} dropped"
            found = _difference(expected[key], actual[key], f"{path}.{key}")
            if found:
                return found
        extra = set(actual) - set(expected)
        return f"{path}: added {sorted(extra)}" if extra else None
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return f"{path}: {len(expected)} items became {len(actual)}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            found = _difference(e, a, f"{path}[{i}]")
            if found:
                return found
        return None
    if expected != actual or type(expected) is not type(actual):
        return f"{path}: {expected!r} became {actual!r}"
    return None


def _database(template, directory):
    directory.mkdir()
    return Database(make_engine(f"sqlite:///{copy_template(template, directory)}"))


@pytest.fixture(scope="module")
def matching_template(tmp_path_factory):
    return migrated_sqlite_template("matching", tmp_path_factory.mktemp("matching-template"))


@pytest.fixture
def mdb(matching_template, tmp_path, monkeypatch):
    monkeypatch.setenv("QI_DATA_DIR", str(tmp_path))
    database = _database(matching_template, tmp_path / "matching")
    yield database
    database.engine.dispose()


# -- matching ---------------------------------------------------------------------------------

def _index_two_institutions(mdb):
    from services.matching.tests.helpers import apply, capability, profile, profile_event, qualification
    cma = qualification("CMA")
    lab = profile(name="泰州市产品质量检验所", park="泰州医药高新区", qualifications=[cma, qualification("CNAS",
                                                                                                   status="expired")],
                  capabilities=[capability(qualification_id=cma["qualification_id"], price=800, item_code="tst.cable"),
                                capability(product="电线", parameter="绝缘电阻", price=650.5, cycle=3)])
    other = profile(name="泰州电缆检测中心", region="姜堰区", capabilities=[capability(price=300)])
    for snapshot in (lab, other):
        apply(mdb, profile_event(snapshot))
    return lab, other


def test_search_lookup_and_profile_keep_every_field(mdb):
    from services.matching import search
    lab, _ = _index_two_institutions(mdb)
    with mdb.read() as session:
        page = check("GET /search/institutions", search.search(session, {"q": "电线电缆 xyzzy", "limit": 1}))
        assert page["next_cursor"] and page["ignored_terms"] == ["xyzzy"] and page["items"][0]["explain"]
        assert page["items"][0]["matched_capabilities"] and page["items"][0]["qualifications"]
        check("GET /search/institutions", search.search(session, {"q": "电线电缆", "limit": 1,
                                                                  "cursor": page["next_cursor"]}))
        check("GET /search/institutions", search.search(session, {"q": "xyzzy"}))       # nothing known: no items
        for kind, preset in (("labs", {"category": "testing"}),
                             ("metrology", {"category": "metrology", "qualification": "LEGAL_METROLOGY"})):
            check(f"GET /lookups/{kind}", {"lookup": kind, **search.search(session, {"limit": 20, **preset})})
        found = check("GET /search/institutions/<institution_id>",
                      search.get_institution(session, lab["institution_id"]))
    assert {c["price_yuan"] for c in found["capabilities"]} == {"800.00", "650.50"}
    assert found["park"] == "泰州医药高新区"


def test_standard_lookup_and_maintenance_keep_every_field(mdb):
    from services.matching import schemas, standards
    operator = {"user_id": "op-1", "role": "operator"}
    with mdb.transaction() as session:
        old = check("GET /standards", standards.lookup(session, "GB/T 19001-2008"))
        assert old["status"] == "replaced" and old["current_edition"] and len(old["editions"]) >= 2
        check("GET /standards/<path:number>", standards.lookup(session, "GB/T 19001"))
        put = schemas.load(schemas.StandardPut, {"title": "质量管理体系 要求", "status": "replaced",
                                                 "replaced_by": "GB/T 19001-2016", "replaces": ["GB/T 19001-2000"]})
        check("PUT /standards/<path:number>", standards.upsert(session, operator, "GB/T 19001-2008", put))


def test_demand_life_visits_and_packages_keep_every_field(mdb):
    from services.matching import demands, schemas
    from services.matching.tests.helpers import ENTERPRISE, OPERATOR, OTHER_ENTERPRISE, WINDOW
    lab, other = _index_two_institutions(mdb)
    people = {p["user_id"]: {"user_id": p["user_id"], "role": "enterprise", "status": "active",
                             "verification_level": "licence_reviewed"}
              for p in (ENTERPRISE, OTHER_ENTERPRISE)}
    lookup = people.get
    body = {"title": "电线电缆导体电阻检测", "description": "出口前需要检测报告", "category": "testing",
            "item_code": "tst.cable", "product": "电线电缆", "parameter": "导体电阻", "standard": "GB/T 3956-2008",
            "region": "海陵区", "industry": "线缆", "budget_yuan": "2000", "desired_cycle_working_days": 5}

    def act(endpoint, fn, *args, **kwargs):
        with mdb.transaction() as session:
            return check(endpoint, fn(session, *args, **kwargs))

    demand = act("POST /demands", demands.publish, ENTERPRISE, schemas.load(schemas.DemandCreate, body))
    demand_id = demand["id"]
    act("POST /demands/<demand_id>/responses", demands.respond, OPERATOR, demand_id,
        schemas.load(schemas.ResponseCreate, {"message": "已受理"}))
    with mdb.read() as session:
        proposals = check("GET /demands/<demand_id>/recommendations/proposals",
                          demands.proposals(session, OPERATOR, demand_id, limit=10))
    assert proposals["items"] and proposals["items"][0]["capabilities"]
    act("POST /demands/<demand_id>/recommendations", demands.recommend, OPERATOR, demand_id,
        schemas.load(schemas.RecommendationCreate, {"institutions": [{"institution_id": lab["institution_id"],
                                                                      "reason": "资质齐全"}], "note": "首选"}))
    act("POST /demands/<demand_id>/referrals", demands.refer, OPERATOR, demand_id,
        schemas.load(schemas.ReferralCreate, {"external_name": "省外检测机构", "external_contact": "025-1234",
                                              "reason": "补充能力", "note": "备选"}))
    act("POST /demands/<demand_id>/engagements", demands.engage, ENTERPRISE, demand_id,
        schemas.load(schemas.EngagementCreate, {"institution_id": lab["institution_id"], "agreed_items": ["导体电阻"],
                                                "agreed_cycle_working_days": 5,
                                                "first_contact_at": "2026-10-12T10:00:00+08:00",
                                                "first_contact_notes": "电话联系"}))
    act("POST /demands/<demand_id>/follow-ups", demands.follow_up, ENTERPRISE, demand_id,
        schemas.load(schemas.FollowUpCreate, {"kind": "progress", "note": "样品已送达"}))
    closed = act("POST /demands/<demand_id>/close", demands.close, ENTERPRISE, demand_id,
                 schemas.load(schemas.CloseDemand, {"outcome": "completed", "note": "报告已出"}))
    kinds = {e["kind"] for e in closed["timeline"]}
    assert kinds == {"response", "recommendation", "referral", "engagement", "follow_up", "closing"}
    assert closed["sla"] and closed["outcome"] == "completed"

    # a late demand, two packable ones from different enterprises (one entered by staff on a visit)
    long_ago = dt.datetime(2026, 1, 5, 2, 0)
    act("POST /demands", demands.publish, OPERATOR, schemas.load(schemas.DemandCreate, {
        **body, "channel": "phone", "enterprise_user_id": OTHER_ENTERPRISE["user_id"]}), at=long_ago,
        enterprise_lookup=lookup)
    first = act("POST /demands", demands.publish, ENTERPRISE, schemas.load(schemas.DemandCreate, body))
    visit = act("POST /visits", demands.log_visit, WINDOW, "win-1", schemas.load(schemas.VisitCreate, {
        "enterprise_name": "泰州某线缆厂", "enterprise_user_id": OTHER_ENTERPRISE["user_id"],
        "visited_on": "2026-10-12", "notes": "走访", "demands": [body]}), enterprise_lookup=lookup)
    assert visit["demand_ids"]
    with mdb.read() as session:
        check("GET /visits", demands.list_visits(session, WINDOW, "win-1", limit=50))
        check("GET /visits/<visit_id>", demands.get_visit(session, WINDOW, "win-1", visit["id"]))
        check("GET /demands", demands.list_demands(session, OPERATOR, limit=2))
        late = check("GET /sla/demands", demands.sla_demands(session, OPERATOR, "overdue"))
        assert late["items"]
        groups = check("GET /packages/proposals", demands.package_groups(session, OPERATOR))
    assert groups["items"]
    package = act("POST /packages", demands.create_package, OPERATOR, schemas.load(schemas.PackageCreate, {
        "title": "线缆检测打包", "industry": "线缆", "institution_id": lab["institution_id"], "window_id": "win-1",
        "package_price_yuan": "3000", "demand_ids": [first["id"], visit["demand_ids"][0]]}))
    with mdb.read() as session:
        check("GET /packages/<package_id>", demands.get_package(session, OPERATOR, package["id"]))
        mine = check("GET /packages/<package_id>", demands.get_package(session, ENTERPRISE, package["id"]))
        assert mine["package_price_yuan"] is None and len(mine["members"]) == 1
        packaged = check("GET /demands/<demand_id>", demands.get_demand(session, ENTERPRISE, first["id"]))
    assert packaged["package"]["share_yuan"] == "1500.00"

