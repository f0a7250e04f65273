"""The index fed by registry events, and search over it (R-6.2, R-6.1.4)."""
import datetime as dt

from sqlalchemy import func, select

from services.common.consumer import ProcessedEvent
from services.matching import postings
from services.matching.models import IndexedCapability

from ..helpers import apply, capability, deregistered_event, ids, profile, profile_event, qualification, run_search


def _metrology(db, **kw):
    q = qualification("LEGAL_METROLOGY")
    snap = profile(name="泰州市计量测试院", kind="metrology", categories=("metrology",), qualifications=[q],
                   capabilities=[capability(category="metrology", item_name="压力表检定", product="一般压力表",
                                            parameter="示值误差", method_standard="JJG 52-2013", price=60, cycle=3,
                                            qualification_id=q["qualification_id"])], **kw)
    apply(db, profile_event(snap))
    return snap


def _lab(db, **kw):
    snap = profile(**kw)
    apply(db, profile_event(snap))
    return snap


def test_chinese_pinyin_and_initials_find_metrology(db):
    metro = _metrology(db)
    _lab(db, capabilities=[capability(method_standard="GB/T 2828.1-2012")])
    for q in ("计量", "jiliang", "jl", "JiLiang"):
        assert ids(run_search(db, q=q)) == [metro["institution_id"]], q
    assert ids(run_search(db, q="压力表")) == [metro["institution_id"]]


def test_standard_number_in_any_spelling(db):
    lab = _lab(db, capabilities=[capability(method_standard="GB/T 2828.1-2012")])
    _metrology(db)
    for q in ("GB/T 2828.1-2012", "gb/t2828.1", "GBT 2828.1"):
        assert ids(run_search(db, q=q)) == [lab["institution_id"]], q
        assert ids(run_search(db, standard=q)) == [lab["institution_id"]], q
    assert run_search(db, q="GB 2828.1")["items"] == []  # GB is not GB/T


def test_every_known_word_must_match_and_unknown_words_are_reported(db):
    metro = _metrology(db)
    _lab(db)
    result = run_search(db, q="计量 压力表 xyzzy")
    assert ids(result) == [metro["institution_id"]]
    assert result["ignored_terms"] == ["xyzzy"]
    assert run_search(db, q="计量 电缆")["items"] == []


def test_filters(db):
    metro = _metrology(db, park="泰州医药高新区")
    cheap = _lab(db, region="姜堰区", capabilities=[capability(price=300, cycle=2)])
    dear = _lab(db, region="海陵区", qualifications=[qualification("CNAS")],
                capabilities=[capability(price=3000, cycle=10, item_code="T-01")])
    assert set(ids(run_search(db, category="testing"))) == {cheap["institution_id"], dear["institution_id"]}
    assert ids(run_search(db, region="姜堰区")) == [cheap["institution_id"]]
    assert ids(run_search(db, park="泰州医药高新区")) == [metro["institution_id"]]
    assert ids(run_search(db, qualification="CNAS")) == [dear["institution_id"]]
    assert ids(run_search(db, qualification="LEGAL_METROLOGY")) == [metro["institution_id"]]
    assert set(ids(run_search(db, category="testing", price_max=500))) == {cheap["institution_id"]}
    assert set(ids(run_search(db, cycle_max=3))) == {cheap["institution_id"], metro["institution_id"]}
    assert ids(run_search(db, item="T-01")) == [dear["institution_id"]]
    # price and category must hold on the same capability: metrology's 60 yuan item is not testing
    assert metro["institution_id"] not in ids(run_search(db, category="testing", price_max=100))


def test_rating_filter_and_explained_ranking(db):
    from services.matching import index
    a = _lab(db, name="甲检测中心")
    b = _lab(db, name="乙检测中心")
    with db.transaction() as session:
        index.set_reputation(session, a["institution_id"], 3.0, 0.8)
        index.set_reputation(session, b["institution_id"], 4.8, 0.95)
    result = run_search(db, q="检测")
    assert ids(result) == [b["institution_id"], a["institution_id"]]
    top = result["items"][0]
    assert {e["factor"] for e in top["explain"]} == {"text", "qualification", "rating", "on_time"}
    assert abs(sum(e["contribution"] for e in top["explain"]) - top["score"]) < 1e-5
    assert ids(run_search(db, rating_min=4.5)) == [b["institution_id"]]


def test_expired_qualification_does_not_satisfy_the_filter(db):
    _lab(db, qualifications=[qualification("CMA", valid_to="2020-01-01")])
    assert run_search(db, qualification="CMA")["items"] == []


def test_stable_keyset_pagination(db):
    made = sorted(_lab(db, name=f"检测站{i}")["institution_id"] for i in range(7))
    seen, cursor = [], None
    while True:
        page = run_search(db, q="检测", limit=3, cursor=cursor)
        assert page["total"] == 7
        seen += ids(page)
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == made  # equal scores: ordered by id, nothing repeated or skipped


def test_deregistered_institution_vanishes_and_stays_gone(db):
    snap = _metrology(db)
    assert ids(run_search(db, q="计量"))
    assert apply(db, deregistered_event(snap["institution_id"], revision=2)) == "applied"
    assert run_search(db, q="计量")["items"] == []
    assert run_search(db)["items"] == []
    # a late, older snapshot must not bring it back
    assert apply(db, profile_event(snap, revision=1, type_="institution.changed")) == "stale"
    assert run_search(db, q="计量")["items"] == []
    with db.read() as session:
        assert postings.documents(session) == {}


def test_same_event_twice_changes_the_index_once(db):
    snap = profile()
    event = profile_event(snap)
    assert apply(db, event) == "applied"
    with db.read() as session:
        before = postings.documents(session)
    assert apply(db, event) == "duplicate"
    with db.read() as session:
        assert postings.documents(session) == before
        assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == 1


def test_newer_revision_replaces_capabilities_older_is_ignored(db):
    snap = profile(capabilities=[capability(product="电线电缆")])
    apply(db, profile_event(snap, revision=1))
    changed = {**snap, "capabilities": [capability(product="塑料管材", item_name="管材检测", parameter="静液压强度",
                                                   method_standard="GB/T 6111-2018")]}
    apply(db, profile_event(changed, revision=3, type_="capability.published"))
    assert run_search(db, q="电线电缆")["items"] == []
    assert ids(run_search(db, q="管材")) == [snap["institution_id"]]
    assert apply(db, profile_event(snap, revision=2, type_="institution.changed")) == "stale"
    assert ids(run_search(db, q="管材")) == [snap["institution_id"]]
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(IndexedCapability)) == 1


def test_matched_capabilities_are_shown(db):
    snap = _lab(db, capabilities=[capability(product="电线电缆"), capability(product="塑料管材", item_name="管材检测",
                                                                         parameter="壁厚", method_standard=None)])
    item = run_search(db, q="管材")["items"][0]
    assert item["institution_id"] == snap["institution_id"]
    assert [c["product"] for c in item["matched_capabilities"]] == ["塑料管材"]
