"""API.md: writes that create things accept an Idempotency-Key; the same key returns the
same result and creates nothing twice, and reusing it for another request is a 409.

Through the nameko service class (worker_factory: real database, no broker), because
the key is handled at the RPC surface, in the domain call's transaction."""
from __future__ import annotations

import datetime as dt

import pytest
from nameko.testing.services import worker_factory
from sqlalchemy import func, select

from services.common.consumer import IdempotencyRecord
from services.common.errors import Conflict, Unauthorized
from services.common.outbox import OutboxEvent
from services.common.sla import SlaClock
from services.registry import service as service_module
from services.registry.models import Capability, ChangeRequest, InstitutionEvent

from ..helpers import PDF, attachment, call
from ..helpers import OPERATOR, approved as _approved

CAPABILITY = {"category": "testing", "item_code": "tst.matching", "product": "电线电缆", "parameter": "导体电阻",
              "method_standard": "GB/T 3956-2008", "price_yuan": "650.5", "cycle_working_days": 5}


@pytest.fixture
def service(db):
    return worker_factory(service_module.RegistryService, db=db)


def _count(db, model, *where) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def _staff(inst_id: str) -> dict:
    return {"user_id": f"staff-{inst_id[:8]}", "role": "institution", "institution_id": inst_id}


def _change_body(**overrides) -> dict:
    # Raw JSON as the gateway forwards it; a change date in the past month, whatever today is.
    body = {"name": "泰州新名称检测有限公司", "change_date": (dt.date.today() - dt.timedelta(days=3)).isoformat(),
            "attachments": {"business_licence": attachment(), "supporting": [attachment(PDF + b"approval")]}}
    body.update(overrides)
    return body


def test_add_capability_twice_with_one_key_creates_one_capability_and_one_event(db, service):
    inst_id = _approved(db)
    staff = _staff(inst_id)
    events_before = _count(db, OutboxEvent)

    first = call(service, "add_capability", staff, inst_id, CAPABILITY, idempotency_key="cap-1")
    again = call(service, "add_capability", staff, inst_id, CAPABILITY, idempotency_key="cap-1")

    assert again == first
    assert _count(db, Capability, Capability.product == "电线电缆") == 1
    assert _count(db, OutboxEvent) == events_before + 1
    assert _count(db, OutboxEvent, OutboxEvent.type == "capability.published") == 1
    assert _count(db, InstitutionEvent, InstitutionEvent.action == "capability_published") == 1

    with pytest.raises(Conflict) as caught:
        call(service, "add_capability", staff, inst_id, {**CAPABILITY, "price_yuan": "700"}, idempotency_key="cap-1")
    assert caught.value.code == "idempotency_key_reused" and caught.value.status == 409
    assert _count(db, Capability, Capability.product == "电线电缆") == 1
    assert _count(db, OutboxEvent) == events_before + 1

    # A new key is a new capability; no key keeps the old behaviour (each call creates).
    call(service, "add_capability", staff, inst_id, CAPABILITY, idempotency_key="cap-2")
    call(service, "add_capability", staff, inst_id, CAPABILITY)
    assert _count(db, Capability, Capability.product == "电线电缆") == 3


def test_a_key_is_bound_to_its_target_and_its_user(db, service):
    mine, other = _approved(db, 1), _approved(db, 2)
    call(service, "add_capability", OPERATOR, mine, CAPABILITY, idempotency_key="op-key")
    # Same user, same key and body, another institution: another request, not a replay.
    with pytest.raises(Conflict) as caught:
        call(service, "add_capability", OPERATOR, other, CAPABILITY, idempotency_key="op-key")
    assert caught.value.code == "idempotency_key_reused"
    # Keys are per user: the institution's own staff may use the same key string.
    call(service, "add_capability", _staff(other), other, CAPABILITY, idempotency_key="op-key")
    assert _count(db, Capability, Capability.product == "电线电缆") == 2
    # And an anonymous call is refused before any key lookup.
    with pytest.raises(Unauthorized):
        call(service, "add_capability", None, mine, CAPABILITY, idempotency_key="op-key")


def test_a_failed_write_does_not_use_up_the_key(db, service):
    inst_id = _approved(db)
    staff = _staff(inst_id)
    with pytest.raises(Exception):
        call(service, "add_capability", staff, inst_id, {**CAPABILITY, "item_code": "no.such.item"}, idempotency_key="k")
    assert _count(db, IdempotencyRecord) == 0
    assert call(service, "add_capability", staff, inst_id, CAPABILITY, idempotency_key="k")["product"] == "电线电缆"


def test_submit_change_twice_with_one_key_creates_one_change(db, service):
    inst_id = _approved(db)
    staff = _staff(inst_id)
    events_before = _count(db, OutboxEvent)

    first = call(service, "submit_change", staff, inst_id, _change_body(), idempotency_key="chg-1")
    again = call(service, "submit_change", staff, inst_id, _change_body(), idempotency_key="chg-1")

    assert again == first
    assert _count(db, ChangeRequest) == 1
    assert _count(db, SlaClock, SlaClock.subject_id == first["change_id"]) == 1
    assert _count(db, InstitutionEvent, InstitutionEvent.action == "change_submitted") == 1
    assert _count(db, OutboxEvent) == events_before     # a submitted change publishes nothing yet

    with pytest.raises(Conflict) as caught:
        call(service, "submit_change", staff, inst_id, _change_body(name="另一个名称检测有限公司"), idempotency_key="chg-1")
    assert caught.value.code == "idempotency_key_reused"
    assert _count(db, ChangeRequest) == 1

    # The review decision, too, happens once per key: the retry gets the decision back
    # instead of a 409 for reviewing a change that is no longer open.
    approved = call(service, "review_change", OPERATOR, inst_id, first["change_id"], {"decision": "approve"},
                                     idempotency_key="rev-1")
    assert call(service, "review_change", OPERATOR, inst_id, first["change_id"], {"decision": "approve"},
                                 idempotency_key="rev-1") == approved
    assert _count(db, OutboxEvent, OutboxEvent.type == "institution.changed") == 1
