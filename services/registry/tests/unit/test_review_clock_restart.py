"""Issue 8 point 13c: an application that went overdue, was returned, resubmitted and then
reviewed within the new limit is met, not breached; and the late first run is still counted."""
from __future__ import annotations

import datetime as dt

from prometheus_client import REGISTRY

from services.common import sla
from services.common.schemas import load
from services.registry import applications, sweep
from services.registry.contract.schemas_applications import ApplicationIn

from ..helpers import application
from ..helpers import APPLICANT, review, submit

RULE = "registry.application_review"


def breached() -> float:
    return REGISTRY.get_sample_value("qi_sla_breached_total", {"rule": RULE}) or 0.0


def test_overdue_returned_resubmitted_and_reviewed_in_time_is_met(db):
    before = breached()
    app_id = submit(db)["application_id"]                              # due Sat 10 Oct
    with db.transaction() as session:
        assert sweep.sweep(session, now=dt.datetime(2026, 10, 11, 1))["overdue"] == 1
    assert breached() == before + 1
    returned = review(db, app_id, "return", ["资质证书不清晰"], at=dt.datetime(2026, 10, 12, 2, 0))
    assert returned["review_clock"]["overdue"] is True
    with db.transaction() as session:
        again = applications.resubmit_application(session, APPLICANT, app_id, load(ApplicationIn, application()),
                                                  at=dt.datetime(2026, 10, 13, 2, 0))   # Tue: due Fri 16 Oct
    clock = again["review_clock"]
    assert clock["state"] == "running" and clock["restarts"] == 1
    with db.read() as session:
        assert session.get(sla.SlaClock, clock["id"]).overdue is False   # the new run starts clean
    assert clock["due_local"].startswith("2026-10-16T23:59:59")
    with db.transaction() as session:
        assert sweep.sweep(session, now=dt.datetime(2026, 10, 14, 1))["overdue"] == 0
    approved = review(db, app_id, "approve", at=dt.datetime(2026, 10, 15, 2, 0))
    assert approved["review_clock"]["state"] == "met"
    assert breached() == before + 1
