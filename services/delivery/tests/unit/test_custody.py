"""Samples and chain of custody (R-4.2.1.1): each handover by the receiving side, in order, exceptions visible."""
from __future__ import annotations

import pytest

from services.common import sla
from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.delivery.models import CustodyStep, Sample
from services.delivery.tests.helpers import (ENTERPRISE, LAB, LAB_ID, OPERATOR, OTHER_ENTERPRISE, STATION, call,
                                              count, events, know, lab_profile, report_body)

SAMPLE = {"enterprise_id": ENTERPRISE["user_id"], "institution_id": LAB_ID, "description": "电线电缆 BV 2.5",
          "items": [{"description": "BV 2.5mm² 电线", "quantity": 3, "unit": "卷", "condition": "intact"}],
          "place": "海陵工业园区驿站"}


def receive(svc, **kw):
    return call(svc, "receive_sample", STATION, payload={**SAMPLE, **kw})


def to_lab(svc, sample):
    manifest = call(svc, "create_manifest", STATION, payload={"sample_ids": [sample["id"]]})
    call(svc, "record_carrier_receipt", STATION, manifest_id=manifest["id"],
         payload={"carrier": "顺丰速运 张师傅", "seal_number": "FZ-0001", "place": "驿站"})
    return manifest


def test_the_whole_chain_in_order_with_events_and_the_evaluation_block(db, svc):
    know(db, lab_profile())
    sample = receive(svc)
    assert sample["status"] == "received" and sample["label_number"].startswith("YP")
    assert sample["next_steps"] == ["packed"]
    label = call(svc, "sample_label", ENTERPRISE, sample_id=sample["id"])
    assert label["svg"].startswith("<svg")
    manifest = to_lab(svc, sample)
    assert call(svc, "get_sample", ENTERPRISE, sample_id=sample["id"])["status"] == "with_carrier"
    accepted = call(svc, "accept_manifest", LAB, manifest_id=manifest["id"],
                    payload={"seal_number": "FZ-0001", "place": "实验室收样室"})
    assert accepted["status"] == "accepted" and accepted["samples"][0]["status"] == "accepted"
    call(svc, "record_lab_step", LAB, sample_id=sample["id"], payload={"step": "testing"})
    call(svc, "register_report", LAB, payload=report_body("TZ2026-0100"))
    call(svc, "record_lab_step", LAB, sample_id=sample["id"],
         payload={"step": "report_issued", "report_number": "TZ2026-0100"})
    delivered = call(svc, "deliver_report", ENTERPRISE, sample_id=sample["id"],
                     payload={"received_by": "王小明", "how": "pickup"})
    assert delivered["delivered_to_masked"] == "王**" and delivered["report_number"] == "TZ2026-0100"
    done = call(svc, "dispose_sample", LAB, sample_id=sample["id"],
                payload={"kind": "disposed", "retention_rule": "留样 3 个月后销毁"})
    assert done["status"] == "disposed" and done["next_steps"] == []
    assert [s["step"] for s in done["steps"]] == ["received", "packed", "with_carrier", "accepted", "testing",
                                                  "report_issued", "report_delivered", "disposed"]
    types = [e["type"] for e in events(db) if e["type"].startswith("sample.")]
    assert types == ["sample.received", "sample.dispatched", "sample.accepted", "sample.report_delivered",
                     "sample.disposed"]
    [delivered_event] = events(db, "sample.report_delivered")
    evaluation = delivered_event["data"]["evaluation"]
    assert evaluation["service_type"] == "report_delivery" and evaluation["service_id"] == sample["id"]
    assert evaluation["enterprise_id"] == ENTERPRISE["user_id"] and evaluation["institution_id"] == LAB_ID
    assert "王" not in str(events(db))   # no personal data in any event
    with db.read() as session:   # every clock opened was stopped
        assert sla.list_clocks(session, state=list(sla.OPEN_STATES)) == []


def test_accepting_what_was_never_dispatched_is_409_naming_the_expected_step(db, svc):
    sample = receive(svc)
    manifest = call(svc, "create_manifest", STATION, payload={"sample_ids": [sample["id"]]})
    with pytest.raises(Conflict) as refused:
        call(svc, "accept_manifest", LAB, manifest_id=manifest["id"], payload={"seal_number": "FZ-1"})
    assert refused.value.code == "custody_out_of_order"
    assert refused.value.errors["expected_step"] == ["with_carrier"]
    with pytest.raises(Conflict) as refused:
        call(svc, "record_lab_step", LAB, sample_id=sample["id"], payload={"step": "testing"})
    assert refused.value.errors["expected_step"] == ["with_carrier"]
    assert count(db, CustodyStep) == 2   # received, packed: nothing more


def test_the_sender_cannot_complete_a_handover(db, svc):
    sample = receive(svc)
    manifest = to_lab(svc, sample)
    with pytest.raises(Forbidden):   # the station says "delivered": only the lab accepts
        call(svc, "accept_manifest", STATION, manifest_id=manifest["id"], payload={"seal_number": "FZ-0001"})
    other_lab = {**LAB, "institution_id": "another-lab"}
    with pytest.raises(NotFound):
        call(svc, "accept_manifest", other_lab, manifest_id=manifest["id"], payload={"seal_number": "FZ-0001"})


def test_a_broken_seal_and_a_rejection_are_exceptions_the_enterprise_and_station_see(db, svc):
    first, second = receive(svc), receive(svc)
    manifest = call(svc, "create_manifest", STATION, payload={"sample_ids": [first["id"], second["id"]]})
    call(svc, "record_carrier_receipt", STATION, manifest_id=manifest["id"],
         payload={"carrier": "承运人", "seal_number": "FZ-0002"})
    with pytest.raises(ValidationFailed):   # a rejection without a reason writes nothing
        call(svc, "accept_manifest", LAB, manifest_id=manifest["id"],
             payload={"seal_number": "FZ-0002", "samples": [{"sample_id": second["id"], "accepted": False}]})
    out = call(svc, "accept_manifest", LAB, manifest_id=manifest["id"], payload={
        "seal_number": "FZ-9999", "samples": [{"sample_id": second["id"], "accepted": False,
                                               "reason": "样品受潮，无法检测", "condition": "damaged"}]})
    by_id = {s["id"]: s for s in out["samples"]}
    assert by_id[first["id"]]["status"] == "accepted" and by_id[second["id"]]["status"] == "rejected"
    seen = call(svc, "get_sample", ENTERPRISE, sample_id=second["id"])
    assert sorted(e["kind"] for e in seen["exceptions"]) == ["broken_seal", "rejected"]
    assert seen["next_steps"] == ["returned"]
    assert call(svc, "get_sample", STATION, sample_id=first["id"])["exceptions"][0]["kind"] == "broken_seal"
    kinds = sorted(e["data"]["kind"] for e in events(db, "sample.exception"))
    assert kinds == ["broken_seal", "broken_seal", "rejected"]
    returned = call(svc, "dispose_sample", STATION, sample_id=second["id"], payload={"kind": "returned"})
    assert returned["status"] == "returned"


def test_the_enterprise_sees_where_each_of_its_samples_is_and_nobody_else_does(db, svc):
    receive(svc)
    to_lab(svc, receive(svc))
    mine = call(svc, "list_samples", ENTERPRISE)
    assert sorted(s["status"] for s in mine["items"]) == ["received", "with_carrier"]
    assert call(svc, "list_samples", OTHER_ENTERPRISE)["total"] == 0
    assert call(svc, "list_samples", OPERATOR)["total"] == 2
    with pytest.raises(Forbidden):
        call(svc, "receive_sample", ENTERPRISE, payload=SAMPLE)


@pytest.mark.parametrize("body", [
    {"items": []}, {"items": [{"description": "x", "quantity": 0, "condition": "intact"}]},
    {"items": [{"description": "x", "quantity": 1, "condition": "wet"}]}, {"enterprise_id": ""}, {"bogus": 1},
])
def test_bad_input_writes_nothing(db, svc, body):
    with pytest.raises(ValidationFailed):
        call(svc, "receive_sample", STATION, payload={**SAMPLE, **body})
    assert count(db, Sample) == 0 and events(db) == []


def test_an_issued_report_must_be_one_the_lab_registered_for_the_enterprise(db, svc):
    sample = receive(svc)
    manifest = to_lab(svc, sample)
    call(svc, "accept_manifest", LAB, manifest_id=manifest["id"], payload={"seal_number": "FZ-0001"})
    call(svc, "record_lab_step", LAB, sample_id=sample["id"], payload={"step": "testing"})
    call(svc, "register_report", LAB, payload=report_body("TZ-OTHER-1", enterprise_id=OTHER_ENTERPRISE["user_id"]))
    with pytest.raises(ValidationFailed):
        call(svc, "record_lab_step", LAB, sample_id=sample["id"],
             payload={"step": "report_issued", "report_number": "TZ-OTHER-1"})


def test_station_and_lab_limits_are_sla_clocks_from_the_rules(db, svc):
    sample = receive(svc)
    with db.read() as session:
        [clock] = sla.list_clocks(session, state=list(sla.OPEN_STATES))
        assert clock.rule == "delivery.station_dispatch" and clock.limit_working_days == 2
    from services.delivery import samples
    with db.read() as session:
        assert [c["rule"] for c in samples.open_clocks(session, OPERATOR)] == ["delivery.station_dispatch"]
        with pytest.raises(Forbidden):
            samples.open_clocks(session, ENTERPRISE)
    to_lab(svc, sample)
    with db.read() as session:
        assert [c.rule for c in sla.list_clocks(session, state=list(sla.OPEN_STATES))] == ["delivery.lab_acceptance"]


def test_samples_named_in_a_body_must_exist(db, svc):
    with pytest.raises(ValidationFailed) as refused:
        call(svc, "create_manifest", STATION, payload={"sample_ids": ["no-such-sample"]})
    assert refused.value.errors == {"sample_ids": ["no-such-sample"]}


def test_every_event_type_has_an_example_its_schema_accepts():
    from services.delivery.contract import CONTRACT
    assert {e.type for e in CONTRACT.events} == {
        "sample.received", "sample.dispatched", "sample.accepted", "sample.exception", "sample.report_delivered",
        "sample.disposed", "report.registered", "report.superseded", "report.withdrawn", "ledger.instrument_due",
        "ledger.instrument_overdue", "sla.clock_closed"}
    for event in CONTRACT.events:
        assert event.example and event.payload().validate(event.example) == {}, event.type
