"""Complaints over RPC: acceptance numbers unique and consecutive under concurrent filings
(on PostgreSQL across two service instances), the closing event feeding an evaluation back."""
from __future__ import annotations

import threading

import pytest

from services.common.errors import ValidationFailed
from services.feedback.tests.helpers import ENTERPRISE, INSTITUTION, INSTITUTION_ID, OPERATOR
from services.feedback.tests.interface.conftest import eventually

pytestmark = pytest.mark.integration

WEB = {"channel": "web", "institution_id": INSTITUTION_ID, "type": "service_attitude", "content": "窗口态度差"}


def test_concurrent_filings_get_unique_consecutive_numbers(running):
    numbers, errors = [], []

    def file(i):
        try:
            with running.rpc({"user_id": f"ent-c-{i}", "role": "enterprise"}) as feedback:
                numbers.append(feedback.file_complaint(WEB, idempotency_key=f"k-{i}")["number"])
        except Exception as exc:  # pragma: no cover
            errors.append(exc)
    threads = [threading.Thread(target=file, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(numbers)) == 16
    seq = sorted(int(n[-4:]) for n in numbers)
    assert seq == list(range(seq[0], seq[0] + 16))


def test_bad_complaint_is_refused_and_a_closed_one_invites_an_evaluation(running):
    with running.rpc(ENTERPRISE) as feedback:
        with pytest.raises(ValidationFailed):
            feedback.file_complaint({**WEB, "type": "nope"})
        c = feedback.file_complaint(WEB)
    with running.rpc(OPERATOR) as feedback:
        for action in ({"action": "accept"}, {"action": "investigate", "note": "核查"}, {"action": "forward"}):
            feedback.act_on_complaint(c["id"], action)
    with running.rpc(INSTITUTION) as feedback:
        feedback.act_on_complaint(c["id"], {"action": "answer", "note": "已整改"})
    with running.rpc(OPERATOR) as feedback:
        feedback.act_on_complaint(c["id"], {"action": "decide", "outcome": "partly_upheld", "note": "部分属实"})
        feedback.act_on_complaint(c["id"], {"action": "tell", "channel": "sms"})
    with running.rpc(ENTERPRISE) as feedback:
        assert feedback.act_on_complaint(c["id"], {"action": "satisfaction", "rating": "basic"})["state"] == "closed"

    def invited():
        with running.rpc(ENTERPRISE) as feedback:
            return [e for e in feedback.list_evaluations(service_type="complaint", limit="100")["items"]
                    if e["service_id"] == c["id"]]
    found = eventually(invited)
    assert len(found) == 1 and found[0]["institution_id"] is None


def test_a_day_past_its_9999th_complaint_goes_on_with_five_digits(running):
    """The column once held 16 characters: on PostgreSQL the 10,000th number of a day was a database error."""
    from sqlalchemy import update

    from services.feedback.models import ComplaintCounter
    with running.rpc(ENTERPRISE) as feedback:
        day = feedback.file_complaint(WEB)["number"][3:11]
    with running.db.transaction() as session:
        session.execute(update(ComplaintCounter).where(ComplaintCounter.day == day).values(last=9999))
    with running.rpc(ENTERPRISE) as feedback:
        assert feedback.file_complaint(WEB)["number"] == f"TS-{day}-10000"
