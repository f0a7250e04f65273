"""Quarterly statistics: the figures, the cause-analysis gate, publishing, the public page, exports, ratings."""
from __future__ import annotations

import base64
import csv
import io

import pytest

from services.common.errors import Conflict, Forbidden, NotFound
from services.feedback import statistics
from services.feedback.tests.helpers import BAD, ENTERPRISE, GOOD, INSTITUTION, OPERATOR, call, events, invite

Q3 = "2026-08-10T02:00:00Z"


def rate(db, payload, **kw):
    e = invite(db, finished_at=Q3, **kw)
    return call(db, "submit_evaluation", ENTERPRISE, evaluation_id=e["id"], payload=payload)


def test_quarter_window_is_the_shanghai_calendar_quarter():
    start, end = statistics.window(2026, 3)
    assert start.isoformat() == "2026-06-30T16:00:00" and end.isoformat() == "2026-09-30T16:00:00"
    assert statistics.window(2026, 4)[1].isoformat() == "2026-12-31T16:00:00"


def test_figures_publishing_gate_public_page_and_exports(db):
    rate(db, GOOD)
    rate(db, {**GOOD, "overall": "basic"})
    bad = rate(db, BAD)
    overturned = rate(db, {**BAD, "overall": "very_dissatisfied"})
    invite(db, finished_at=Q3)                                   # still pending
    from services.feedback import evaluations
    with db.transaction() as session:
        evaluations.expire_due(session)                          # every Q3 invitation left: not evaluated
    preview = call(db, "preview_quarter", OPERATOR, query={"year": "2026", "quarter": "3"})
    p = preview["platform"]
    assert p["services_finished"] == 5 and p["evaluations"] == 4 and p["not_evaluated"] == 1
    assert p["participation_rate"] == 0.8 and p["satisfaction_rate"] == 0.5
    assert preview["missing_cause_analysis"] == 2 and "满意率" in preview["formula"]["satisfaction_rate_zh"]
    with pytest.raises(Conflict) as gate:
        call(db, "publish_quarter", OPERATOR, payload={"year": 2026, "quarter": 3})
    assert gate.value.code == "cause_analysis_missing"
    call(db, "advance_rectification", OPERATOR, rectification_id=bad["rectification_id"],
         payload={"action": "verify", "cause_analysis": "高峰期排队"})
    call(db, "advance_rectification", INSTITUTION, rectification_id=overturned["rectification_id"],
         payload={"action": "appeal", "reason": "非本机构"})
    call(db, "advance_rectification", OPERATOR, rectification_id=overturned["rectification_id"],
         payload={"action": "decide_appeal", "overturn": True, "reason": "申诉成立"})
    with pytest.raises(NotFound):
        call(db, "quarterly_statistics", None, query={"year": "2026", "quarter": "3"})
    with pytest.raises(Forbidden):
        call(db, "publish_quarter", ENTERPRISE, payload={"year": 2026, "quarter": 3})
    out = call(db, "publish_quarter", OPERATOR, payload={"year": 2026, "quarter": 3})
    assert out["published"] and out["platform"]["evaluations"] == 3            # the overturned one left
    assert out["platform"]["satisfaction_rate"] == pytest.approx(2 / 3, abs=1e-4)
    page = call(db, "quarterly_statistics", None, query={"year": "2026", "quarter": "3"})   # no login
    assert {k: v for k, v in page.items() if k != "institutions"} == {k: v for k, v in out.items()
                                                                      if k != "institutions"}
    assert call(db, "published_quarters", None)[0]["period"] == "2026-Q3"
    with pytest.raises(Conflict):
        call(db, "publish_quarter", OPERATOR, payload={"year": 2026, "quarter": 3})
    published = events(db, "statistics.published")
    assert len(published) == 1 and published[0]["data"]["period"] == "2026-Q3"
    rated = [e for e in events(db, "institution.rated") if e["data"]["period"] == "2026-Q3"]
    assert rated[-1]["data"]["institution_id"] == "inst-1"
    assert rated[-1]["data"]["satisfaction"] == pytest.approx(2 / 3, abs=1e-4)
    exported = call(db, "export_quarter", None, query={"year": "2026", "quarter": "3", "format": "csv"})
    assert exported["content_type"] == "text/csv" and exported["filename"] == "quarterly-statistics-2026-Q3.csv"
    rows = list(csv.reader(io.StringIO(base64.b64decode(exported["content_base64"]).decode("utf-8-sig"))))
    assert rows[0][0] == "scope" and rows[1][0] == "platform" and rows[1][3] == "3"
    assert rows[0][-2:] == ["booked_hours", "used_hours"]
    xlsx = call(db, "export_quarter", None, query={"year": "2026", "quarter": "3", "format": "xlsx"})
    assert xlsx["content_type"].endswith("spreadsheetml.sheet") and xlsx["filename"].endswith(".xlsx")
    from openpyxl import load_workbook
    book = load_workbook(io.BytesIO(base64.b64decode(xlsx["content_base64"])))
    assert book.sheetnames == ["2026-Q3", "dissatisfied"] and book["2026-Q3"]["A2"].value == "platform"
    with pytest.raises(NotFound):   # an unpublished quarter is not exported to the public
        call(db, "export_quarter", None, query={"year": "2026", "quarter": "2", "format": "csv"})


def test_bad_query_is_refused(db):
    from services.common.errors import ValidationFailed
    for query in ({"year": "2026"}, {"year": "2026", "quarter": "5"}, {"year": "x", "quarter": "1"}):
        with pytest.raises(ValidationFailed):
            call(db, "quarterly_statistics", None, query=query)
    with pytest.raises(ValidationFailed):
        call(db, "publish_quarter", OPERATOR, payload={"year": 2026, "quarter": "3"})


def test_institution_names_come_from_registry_events(db):
    from services.common.events import make_envelope
    from services.feedback.service import FeedbackService  # noqa: F401  (the handlers exist)
    from services.common.consumer import handle_once

    def event(revision, name):
        return make_envelope("registry", "institution.changed", "inst-1", {
            "institution_id": "inst-1", "revision": revision, "snapshot": {"name": name}})
    handle_once(db, "feedback.t", event(2, "泰州市计量测试院"), statistics.apply_institution_event)
    handle_once(db, "feedback.t", event(1, "旧名称"), statistics.apply_institution_event)   # older: ignored
    rate(db, GOOD)
    preview = call(db, "preview_quarter", OPERATOR, query={"year": "2026", "quarter": "3"})
    assert preview["institutions"][0]["institution_name"] == "泰州市计量测试院"
