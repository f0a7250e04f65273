"""Every operation of the registry's contract, through the service's generated entrypoints and the
shared pipeline (nameko's worker_factory: a real migrated database, no broker).

Checked for every operation, not by example: the entrypoint's wire signature is the contract's (path
parameters in path order, the body as `payload`, Idempotency-Key and query fields as keywords); a
caller outside the operation's roles is refused before anything is loaded; a bad body is a 422
problem with the stable code `validation_error`, a "中文 / English" message and the offending field
named, and writes nothing at all.
"""
from __future__ import annotations

import inspect
import re

import pytest
import sqlalchemy as sa
from nameko.testing.services import worker_factory

from services.common.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from services.common.platform import ROLES
from services.registry import service as service_module
from services.registry.contract import CONTRACT

from ..helpers import OPERATOR, application, approved, call

OPERATIONS = {op.name: op for op in CONTRACT.operations}
WRITES_WITH_BODY = [op.name for op in CONTRACT.operations if op.body is not None]


@pytest.fixture
def service(db):
    return worker_factory(service_module.RegistryService, db=db)


def rows(db) -> dict[str, int]:
    """Rows of every table of the registry's database (its own tables, outbox, audit, idempotency)."""
    with db.read() as session:
        names = sa.inspect(session.get_bind()).get_table_names()
        return {t: session.execute(sa.text(f'SELECT COUNT(*) FROM "{t}"')).scalar_one() for t in names
                if t != "alembic_version"}


def caller_for(op) -> dict:
    role = op.roles[0] if op.roles else "operator"
    principal = {"user_id": f"user-{role}", "role": role, "sid": "s1"}
    if role == "institution":
        principal["institution_id"] = "inst-1"
    if role == "window":
        principal["window_id"] = "win-1"
    return principal


def path_args(op) -> list:
    return [1 if converter == "int" else f"{name}-1"
            for converter, name in re.findall(r"<(?:([^:>]+):)?([^>]+)>", op.path)]


def test_the_contract_declares_every_operation_once_and_each_is_an_entrypoint():
    assert len(OPERATIONS) == len(CONTRACT.operations)
    for op in CONTRACT.operations:
        target = getattr(service_module.RegistryService, op.name).__qi_target__
        params = list(inspect.signature(target).parameters)
        expected = ["self", *op.path_params] + (["payload"] if op.body is not None else []) + ["principal"]
        expected += ["idempotency_key"] if op.creates else []
        expected += ["query"] if op.query is not None else []
        assert params == expected, op.name


@pytest.mark.parametrize("name", WRITES_WITH_BODY)
def test_a_bad_body_is_a_422_naming_the_field_and_writes_nothing(db, service, name):
    op = OPERATIONS[name]
    before = rows(db)
    with pytest.raises(ValidationFailed) as refused:
        call(service, name, caller_for(op), *path_args(op), {"no_such_field": "x"}, idempotency_key=None)
    assert refused.value.status == 422 and refused.value.code == "validation_error"
    assert re.search(r"[\u4e00-\u9fff]", refused.value.detail) and " / " in refused.value.detail
    assert "no_such_field" in refused.value.errors
    with pytest.raises(ValidationFailed):
        call(service, name, caller_for(op), *path_args(op), "not an object")
    assert rows(db) == before


@pytest.mark.parametrize("name", [op.name for op in CONTRACT.operations if op.roles])
def test_a_role_outside_the_operation_is_refused_before_anything_is_loaded(db, service, name):
    op = OPERATIONS[name]
    outsider = next(r for r in ROLES if r not in op.roles)
    before = rows(db)
    args = path_args(op) + ([{"no_such_field": "x"}] if op.body is not None else [])
    with pytest.raises(Forbidden):
        call(service, name, {"user_id": "someone", "role": outsider, "sid": "s1"}, *args)
    with pytest.raises(Unauthorized):
        call(service, name, None, *args)
    assert rows(db) == before


def test_query_fields_arrive_as_keywords_typed_and_checked(db, service):
    first, second = approved(db, 1), approved(db, 2)
    page = service.list_institutions(principal=None, limit="1", offset="1")
    assert page["limit"] == 1 and page["offset"] == 1 and page["total"] == 2
    assert [i["institution_id"] for i in page["items"]] in ([first], [second])
    with pytest.raises(ValidationFailed) as refused:
        service.list_institutions(principal=None, limit="many")
    assert "limit" in refused.value.errors
    with pytest.raises(ValidationFailed):
        service.list_items(principal=None, category="no-such-category")


def test_reads_dump_with_the_response_schema_and_the_domain_still_decides_visibility(db, service):
    inst_id = approved(db)
    profile = call(service, "get_institution", None, inst_id)
    assert profile["institution_id"] == inst_id and "legal_representative" not in profile
    staff = call(service, "get_institution", OPERATOR, inst_id)
    assert staff["legal_representative"] and staff["legal_representative"] != "赵测试"   # masked
    quals = call(service, "list_qualifications", None, inst_id)
    assert [q["qualification_id"] for q in quals] == [q["qualification_id"] for q in profile["qualifications"]]
    history = call(service, "institution_history", OPERATOR, inst_id)
    assert history[0]["action"] == "approved" and history[0]["at"].endswith("Z")
    with pytest.raises(NotFound):
        call(service, "get_application", {"user_id": "u", "role": "enterprise"}, "no-such-application")


def test_one_catalogue_item_and_a_hidden_one_only_for_operators(db, service):
    code = service.list_items(principal=None)[0]["code"]
    assert call(service, "get_item", None, code)["code"] == code
    call(service, "update_item", OPERATOR, code, {"public": False})
    assert call(service, "get_item", OPERATOR, code)["public"] is False
    for caller in (None, {"user_id": "u", "role": "enterprise", "sid": "s"}):
        with pytest.raises(NotFound):
            call(service, "get_item", caller, code)
    with pytest.raises(NotFound):
        call(service, "get_item", None, "no.such.item")


def test_review_clocks_filter_and_the_open_clocks_rpc_for_the_overview(db, service):
    approved(db, 1)
    call(service, "submit_application", {"user_id": "applicant-2", "role": "enterprise"},
         application(2))
    clocks = service.review_clocks(principal=OPERATOR)
    assert [c["rule"] for c in clocks] == ["registry.application_review"]
    assert service.list_review_clocks(principal=OPERATOR) == clocks
    assert service.review_clocks(principal=OPERATOR, overdue="true") == []
    with pytest.raises(Forbidden):
        service.list_review_clocks(principal={"user_id": "e", "role": "enterprise"})


def test_training_attendance_through_the_entrypoint(db, service):
    """Only after the start; only confirmed participants; each newly marked one publishes training.attended."""
    import datetime as dt

    from services.common.db import utcnow
    from services.common.errors import Conflict
    from services.registry.models import TrainingEvent
    training = call(service, "create_training", OPERATOR, {
        "category_code": "testing", "title": "ICP-MS 上机培训", "starts_at": "2030-01-07T09:00:00+08:00",
        "mode": "onsite", "venue": "泰州医药高新区服务站", "capacity": 5, "qualification_code": "icpms-operation"})
    assert training["qualification_code"] == "icpms-operation" and training["attended"] == 0
    trainee = {"user_id": "trainee-1", "role": "enterprise", "sid": "s2"}
    call(service, "sign_up_training", trainee, training["training_id"])
    with pytest.raises(Conflict) as refused:
        call(service, "record_training_attendance", OPERATOR, training["training_id"], {"user_ids": ["trainee-1"]})
    assert refused.value.code == "training_not_started"
    with db.transaction() as session:                          # the training has taken place
        session.get(TrainingEvent, training["training_id"]).starts_at = utcnow() - dt.timedelta(hours=1)
    before = rows(db)
    with pytest.raises(ValidationFailed):
        call(service, "record_training_attendance", OPERATOR, training["training_id"],
             {"user_ids": ["trainee-1", "stranger"]})
    assert rows(db) == before
    out = call(service, "record_training_attendance", OPERATOR, training["training_id"], {"user_ids": ["trainee-1"]})
    assert out["recorded"] == ["trainee-1"] and out["training"]["attended"] == 1
    with db.read() as session:
        kinds = session.execute(sa.text("SELECT type FROM outbox_event")).scalars().all()
    assert kinds.count("training.attended") == 1
