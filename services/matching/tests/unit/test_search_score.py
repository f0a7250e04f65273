"""The score computed in SQL (integer micro-points, one page fetched) ranks and
scores exactly like the straightforward definition: every match scored in Python
from float weights, sorted by (-score, id). The reference below is that definition,
kept deliberately naive: each institution's terms straight from the analysis of its
snapshot (index.institution_terms), nothing read from the full-text index. It runs
on SQLite (FTS5 candidates) and PostgreSQL (GIN candidates)."""
import datetime as dt
import json
import random
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from services.common.db import Database, make_engine
from services.common.migrate import upgrade
from services.matching import index, postings, search, text
from services.matching.models import IndexedInstitution, RankedInstitution
from tests.conftest import BACKENDS, pg_databases  # noqa: F401 (PostgreSQL databases for the run)

from ..helpers import apply, capability, deregistered_event, profile, profile_event, qualification, run_search

PRODUCTS = ["电线电缆", "一般压力表", "塑料管材", "纺织品", "水泥", "砝码"]
PARAMETERS = ["导体电阻", "示值误差", "拉伸强度", "甲醛含量", "抗压强度"]
STANDARDS = ["GB/T 2828.1-2012", "JJG 52-2013", "GB 175-2023", "GB/T 3956-2008"]
REGIONS = ["海陵区", "姜堰区", "高港区"]


@pytest.fixture(params=BACKENDS)
def db(request, template_db, tmp_path, monkeypatch):
    """This module's database on each backend (the unit fixture's SQLite copy, or a fresh PostgreSQL one)."""
    if request.param == "sqlite":
        database = request.getfixturevalue("db_sqlite")
    else:
        url = request.getfixturevalue("pg_databases").create("matching_score")
        upgrade("matching", url)
        database = Database(make_engine(url))
    yield database
    database.engine.dispose()


@pytest.fixture
def db_sqlite(template_db, tmp_path, monkeypatch):
    from services.common.testing import copy_template
    monkeypatch.setenv("QI_DATA_DIR", str(tmp_path))
    return Database(make_engine(f"sqlite:///{copy_template(template_db, tmp_path)}"))


def _reference(db, params, today):
    """The naive algorithm: all active institutions scored in Python from their snapshots."""
    with db.read() as session:
        rows = session.scalars(select(IndexedInstitution).where(IndexedInstitution.status == "active")).all()
        terms_of = {row.id: index.institution_terms(json.loads(row.snapshot)) for row in rows}
        words = text.query_terms(params.get("q"))
        known = [w for w in words if any(w in terms for terms in terms_of.values())]
        if words and not known:
            return []
        required = list(dict.fromkeys(known + search.facet_terms(params)))
        ranked = []
        for row in rows:
            if params.get("rating_min") is not None and (row.rating is None or row.rating < params["rating_min"]):
                continue
            if not _filters_hold(json.loads(row.snapshot), params, today):
                continue
            weights = {t: terms_of[row.id][t] for t in required if t in terms_of[row.id]}
            if len(weights) != len(required):
                continue
            n = len(known)
            text_part = min(1.0, sum(weights.values()) / (n * search.MAX_TERM_WEIGHT)) if n else 0.0
            qualified = row.qualified_until is not None and row.qualified_until >= today
            values = {"text": text_part, "qualification": 1.0 if qualified else 0.0,
                      "rating": row.rating / 5.0 if row.rating is not None else 0.5,
                      "on_time": row.on_time_rate if row.on_time_rate is not None else 0.5}
            score = round(sum(round(search.WEIGHTS[f] * v, 6) for f, v in values.items()), 6)
            ranked.append((score, row.id))
        ranked.sort(key=lambda r: (-r[0], r[1]))
        return ranked


def _filters_hold(snapshot, params, today):
    """The qualification and capability filters straight from the snapshot (not idx_rank's facts)."""
    if params.get("qualification") and not any(
            q["type"] == params["qualification"] and q["status"] == "valid"
            and (not q.get("valid_to") or q["valid_to"] >= today.isoformat()) for q in snapshot["qualifications"]):
        return False
    if params.get("price_max") is None and params.get("cycle_max") is None:
        return True
    key = text.standard_key(params.get("standard")) if params.get("standard") else None

    def fits(cap):
        return ((params.get("price_max") is None
                 or (cap["price_yuan"] is not None and Decimal(cap["price_yuan"]) <= params["price_max"]))
                and (params.get("cycle_max") is None
                     or (cap["cycle_working_days"] is not None and cap["cycle_working_days"] <= params["cycle_max"]))
                and (not params.get("category") or cap["category"] == params["category"])
                and (not params.get("item") or cap["item_code"] == params["item"])
                and (not key or key in text.split_standards(cap["method_standard"])))
    return any(fits(cap) for cap in snapshot["capabilities"])


def _all_pages(db, params, limit):
    seen, cursor = [], None
    while True:
        page = run_search(db, **params, limit=limit, **({"cursor": cursor} if cursor else {}))
        for item in page["items"]:
            assert abs(sum(e["contribution"] for e in item["explain"]) - item["score"]) < 1e-9
        seen += [(item["score"], item["institution_id"]) for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            return seen, page["total"]


def test_sql_score_and_order_equal_the_python_definition(db):
    rng = random.Random(7)
    made = []
    for i in range(40):
        quals = [qualification(rng.choice(["CMA", "CNAS"]), valid_to=rng.choice(["2020-01-01", "2030-12-31", None]),
                               status=rng.choice(["valid", "valid", "valid", "suspended"]))
                 for _ in range(rng.randint(1, 2))]
        # Capabilities of one or two categories, some without a price or a cycle: the filters'
        # shortcuts (idx_rank's facts) and their fallback (EXISTS on idx_capability) both run.
        caps = [capability(category=rng.choice(["testing", "testing", "metrology"]) if i % 3 == 0 else "testing",
                           product=p, item_name=p + "检测", parameter=rng.choice(PARAMETERS),
                           method_standard=rng.choice(STANDARDS), price=rng.choice([None, rng.randint(50, 3000)]),
                           cycle=rng.choice([None, rng.randint(1, 15)]), item_code=rng.choice([None, "T-01", "T-02"]),
                           qualification_id=quals[0]["qualification_id"])
                for p in rng.sample(PRODUCTS, rng.randint(1, 3))]
        snap = profile(name=f"泰州{rng.choice(PRODUCTS)}检测中心{i}", region=rng.choice(REGIONS),
                       qualifications=quals, capabilities=caps)
        apply(db, profile_event(snap))
        made.append(snap["institution_id"])
    with db.transaction() as session:
        for institution_id in rng.sample(made, 25):
            index.set_reputation(session, institution_id, rng.choice([None, rng.uniform(0, 5)]),
                                 rng.choice([None, rng.random()]))
    today = dt.date.today()
    queries = [{}, {"q": "检测"}, {"q": "电线电缆"}, {"q": "dxdl"}, {"q": "压力表 示值误差"}, {"q": "水泥 抗压强度 检测"},
               {"q": "GB/T 2828.1"}, {"region": "姜堰区"}, {"q": "检测", "region": "海陵区"}, {"rating_min": 2.5},
               {"standard": "JJG 52-2013", "q": "压力表"}, {"q": "泰州 检测 中心"},
               {"q": "gb/t2828.1"}, {"q": "dianxian"}, {"q": "检测 无此词"}, {"q": "检测", "region": "无此区"},
               {"standard": "GB/T 2828.1-2012", "region": "高港区"},
               {"qualification": "CMA"}, {"qualification": "CNAS", "q": "检测"}, {"price_max": 1000},
               {"cycle_max": 5}, {"category": "testing", "price_max": 800}, {"category": "metrology", "cycle_max": 10},
               {"category": "testing", "price_max": 2000, "cycle_max": 8}, {"item": "T-01", "price_max": 1500},
               {"standard": "JJG 52-2013", "cycle_max": 12}, {"q": "水泥", "category": "testing", "qualification": "CMA",
                                                             "price_max": 2500, "rating_min": 1.0}]
    for params in queries:
        expected = _reference(db, params, today)
        for limit in (1, 7, 100):
            seen, total = _all_pages(db, params, limit)
            assert seen == expected, (params, limit)
            assert total == len(expected), params


def test_rank_row_follows_reputation_and_status(db):
    snap = profile()
    apply(db, profile_event(snap))
    with db.read() as session:
        assert session.scalar(select(RankedInstitution.reputation)) == 125_000  # neutral 0.5 / 0.5
    with db.transaction() as session:
        index.set_reputation(session, snap["institution_id"], 4.8, 0.95)
    with db.read() as session:
        assert session.scalar(select(RankedInstitution.reputation)) == 144_000 + 95_000
        # the index holds the analysis' terms, their points the weights in hundredths
        assert postings.documents(session) == {snap["institution_id"]: {
            t: round(w * 100) for t, w in index.institution_terms(snap).items()}}
    # a newer profile keeps the reputation; deregistration removes the rank row
    apply(db, profile_event(snap, revision=2, type_="institution.changed"))
    with db.read() as session:
        assert session.scalar(select(RankedInstitution.reputation)) == 239_000
    apply(db, deregistered_event(snap["institution_id"], revision=3))
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(RankedInstitution)) == 0


def test_migration_fills_the_filter_facts_as_the_indexer_does(db):
    """matching_0006 computes idx_rank's filter facts of an existing index in SQL; they must be
    those index.filter_facts writes (downgrade drops them, upgrade recomputes them)."""
    from alembic import command
    from services.common.migrate import alembic_config

    made = [profile(qualifications=[qualification("CMA", valid_to=None), qualification("CMA", valid_to="2031-05-01"),
                                    qualification("CNAS", status="suspended")],
                    capabilities=[capability(price=None, cycle=9), capability(price="120.50", cycle=None)]),
            profile(qualifications=[qualification("LEGAL_METROLOGY", valid_to="2020-01-01")],
                    capabilities=[capability(category="metrology", price="80"), capability(price="60", cycle=2)]),
            profile(qualifications=[], capabilities=[])]
    for snap in made:
        apply(db, profile_event(snap))
    columns = [c for c in RankedInstitution.__table__.columns.keys() if c in index.filter_facts([], [])]

    def facts():
        with db.read() as session:
            return {row[0]: tuple(row[1:]) for row in session.execute(select(
                RankedInstitution.institution_id, *[getattr(RankedInstitution, c) for c in columns]))}
    written = facts()
    assert written[made[0]["institution_id"]] == (dt.date(9999, 12, 31), None, None, None, None,
                                                  Decimal("120.50"), 9, "testing")
    assert written[made[1]["institution_id"]][2] == dt.date(2020, 1, 1)  # the filter compares it with today
    assert written[made[1]["institution_id"]][5:] == (Decimal("60.00"), 2, None)  # two categories
    assert written[made[2]["institution_id"]] == (None,) * 8
    url = db.engine.url.render_as_string(hide_password=False)
    db.engine.dispose()
    command.downgrade(alembic_config("matching", url), "matching_0005")
    command.upgrade(alembic_config("matching", url), "heads")
    assert facts() == written


def test_search_plans_hold_for_the_search_only(db):
    """PostgreSQL: the search's statements run without sequential scans or parallel workers,
    and the transaction's settings are as before once it returns (SQLite: nothing to set)."""
    from sqlalchemy import text as sql_text
    apply(db, profile_event(profile()))
    with db.read() as session:
        if not postings.is_sqlite(session):
            settings = sql_text("SELECT current_setting('enable_seqscan'), "
                                "current_setting('max_parallel_workers_per_gather')")
            before = tuple(session.execute(settings).first())
            with postings.search_plans(session):
                assert tuple(session.execute(settings).first()) == ("off", "0")
            assert tuple(session.execute(settings).first()) == before
            assert search.search(session, {"q": "检测"})["total"] == 1
            assert tuple(session.execute(settings).first()) == before
        else:
            assert search.search(session, {"q": "检测"})["total"] == 1
