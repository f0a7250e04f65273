"""The delivery demo set, seeded from registry and identity events exactly as a running platform gets them."""
from __future__ import annotations

import uuid

from sqlalchemy import func, select

from services.common.events import make_envelope
from services.delivery import demo, institutions
from services.delivery.models import Instrument, Report, Sample, SampleException
from services.delivery.tests.helpers import Svc, call, know, lab_profile, qualification


def feed(db):
    for n in range(4):
        know(db, {**lab_profile(str(uuid.uuid4())), "name": f"示范实验室{n}"})
    metro = lab_profile(str(uuid.uuid4()), kind="metrology", quals=[qualification("LEGAL_METROLOGY")],
                        standards=("JJG 52-2013",), category="metrology")
    know(db, metro)
    enterprise_id = str(uuid.uuid4())
    with db.transaction() as session:
        institutions.apply_identity_event(session, make_envelope("identity", "user.registered", enterprise_id, {
            "user_id": enterprise_id, "role": "enterprise", "nickname": "示范企业",
            "registered_at": "2026-01-01T00:00:00Z", "verification_level": "format_checked"}))
    return enterprise_id


def test_the_demo_set_has_every_stage_and_state(db, monkeypatch):
    monkeypatch.setenv("QI_DEMO_WAIT_SECONDS", "0")
    assert demo.seed(db).startswith("skipped")      # nothing arrived yet: nothing written
    enterprise_id = feed(db)
    assert demo.seed(db) == "50 reports, 24 instruments, 10 samples"
    assert demo.seed(db) == "0 reports, 0 instruments, 0 samples"   # idempotent
    with db.read() as session:
        statuses = dict(session.execute(select(Report.status, func.count()).group_by(Report.status)).all())
        assert statuses == {"valid": 45, "superseded": 4, "withdrawn": 1}
        assert session.scalar(select(func.count()).select_from(Report).where(Report.scope == "flagged")) == 1
        assert len({r.institution_id for r in session.scalars(select(Report))}) >= 3
        stages = {s.status for s in session.scalars(select(Sample))}
        assert stages == {"received", "packed", "with_carrier", "accepted", "testing", "report_issued",
                          "report_delivered", "returned", "disposed", "rejected"}
        assert session.scalar(select(func.count()).select_from(SampleException)) >= 1
        assert session.scalar(select(func.count()).select_from(Instrument)
                              .where(Instrument.enterprise_id == enterprise_id)) >= 20
        assert session.scalar(select(func.count()).select_from(Instrument)
                              .where(Instrument.status == "suspended")) == 1
    svc = Svc(db)
    due = call(svc, "list_instruments", {"user_id": enterprise_id, "role": "enterprise"}, query={"due_within": 30})
    assert 3 <= due["total"] <= 6
    answers = {}
    for number, code in demo.codes():
        answers[number] = call(svc, "verify_report", None, number=number, payload={"code": code})["result"]
    assert answers[f"{demo.PREFIX}0001"] == "superseded" and answers[f"{demo.PREFIX}0010"] == "withdrawn"
    assert answers[f"{demo.PREFIX}0030"] == "expired" and answers[f"{demo.PREFIX}0050"] == "valid"
