"""The shared operation pipeline (services.common.pipeline), without a broker.

A toy contract and domain functions in this module stand for a service's; the
pipeline is run as the generated entrypoints run it after CallerRpc verified
the caller.
"""
from __future__ import annotations

import inspect

import pytest

from services.common import fields, pipeline
from services.common.db import CommonBase, Database, make_engine
from services.common.errors import Conflict, Forbidden, ValidationFailed
from services.common.operations import Contract, Operation
from services.common.schemas import Schema

CALLS: list[dict] = []


class ThingIn(Schema):
    name = fields.String(required=True, blank=False)


class ThingOut(Schema):
    id = fields.String()
    name = fields.String()


class ThingQuery(Schema):
    limit = fields.Integer(load_default=10)


def create_thing(session, principal, data, idempotency_key):
    CALLS.append({"data": data, "key": idempotency_key})
    return {"id": f"t{len(CALLS)}", "name": data["name"], "secret": "never dumped"}


def list_things(session, limit, query):
    return [{"id": str(i), "name": f"n{i}"} for i in range(limit)]


def rename(session, thing_id, data):
    return {"id": thing_id, "name": data["name"]}


CONTRACT = Contract("toy", operations=(
    Operation("create_thing", "POST", "/things", "Create / 创建", "test_pipeline:create_thing",
              roles=("enterprise",), body=ThingIn, response=ThingOut, status=201, creates=True),
    Operation("list_things", "GET", "/things", "List / 列表", "test_pipeline:list_things", query=ThingQuery,
              response=ThingOut, many=True),
    Operation("rename", "PUT", "/things/<thing_id>", "Rename / 改名", "test_pipeline:rename", roles=(),
              body=ThingIn, response=ThingOut),
))


class ToyService:
    name = "toy"


ToyService.__module__ = __name__
pipeline.expose(ToyService, CONTRACT)


@pytest.fixture
def service(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'toy.db'}")
    CommonBase.metadata.create_all(engine)
    svc = ToyService()
    svc.db = Database(engine)
    svc.call_data = {}
    CALLS.clear()
    return svc


def call(service, name, principal=None, **arguments):
    op = CONTRACT.operation(name)
    return pipeline.run(service, CONTRACT, op, __name__.rsplit(".", 1)[0], principal, arguments)


ENTERPRISE = {"user_id": "u1", "role": "enterprise"}


def test_the_signature_says_what_the_wire_carries():
    target = ToyService.rename.__qi_target__
    params = inspect.signature(target).parameters
    assert list(params) == ["self", "thing_id", "payload", "principal"]
    assert params["principal"].default is inspect.Parameter.empty  # required caller
    listing = inspect.signature(ToyService.list_things.__qi_target__).parameters
    assert listing["principal"].default is None and "query" in listing  # public, query as keywords


def test_the_response_schema_dumps_once_and_filters(service):
    out = call(service, "create_thing", ENTERPRISE, payload={"name": "a"})
    assert out == {"id": "t1", "name": "a"}


def test_roles_are_checked_before_anything_is_loaded(service):
    with pytest.raises(Forbidden):
        call(service, "create_thing", {"user_id": "u2", "role": "institution"}, payload={"bad": 1})
    assert CALLS == []


def test_bad_input_is_refused_and_nothing_runs(service):
    with pytest.raises(ValidationFailed) as exc:
        call(service, "create_thing", ENTERPRISE, payload={"name": "x", "extra": 1})
    assert "extra" in exc.value.errors
    with pytest.raises(ValidationFailed):
        call(service, "list_things", query={"limit": "many"})
    assert CALLS == []


def test_query_strings_are_typed_and_defaults_apply(service):
    assert len(call(service, "list_things", query={"limit": "3"})) == 3
    assert len(call(service, "list_things", query={"limit": None})) == 10


def test_idempotency_key_creates_once_and_refuses_another_body(service):
    first = call(service, "create_thing", ENTERPRISE, payload={"name": "a"}, idempotency_key="k1")
    again = call(service, "create_thing", ENTERPRISE, payload={"name": "a"}, idempotency_key="k1")
    assert first == again and len(CALLS) == 1
    with pytest.raises(Conflict):
        call(service, "create_thing", ENTERPRISE, payload={"name": "b"}, idempotency_key="k1")
    other_user = call(service, "create_thing", {"user_id": "u9", "role": "enterprise"}, payload={"name": "a"},
                      idempotency_key="k1")
    assert other_user["id"] != first["id"]


def test_path_parameters_reach_the_domain_by_name(service):
    assert call(service, "rename", ENTERPRISE, thing_id="t7", payload={"name": "z"}) == {"id": "t7", "name": "z"}


def test_a_hand_written_method_cannot_shadow_an_operation():
    class Twice:
        name = "toy"

        def rename(self):
            pass
    Twice.__module__ = __name__
    with pytest.raises(TypeError):
        pipeline.expose(Twice, CONTRACT)


def test_a_contract_refuses_an_operation_declared_twice():
    op = CONTRACT.operations[0]
    with pytest.raises(ValueError):
        Contract("toy", operations=(op, op))


def test_query_fields_arrive_as_the_wire_passes_them(service):
    # CallerRpc flattens the generated method's **query into plain keywords.
    assert len(call(service, "list_things", limit="2")) == 2
    assert len(service.list_things(limit="4")) == 4          # a direct call, as unit tests make it
    assert service.rename("t9", {"name": "q"}, principal=ENTERPRISE) == {"id": "t9", "name": "q"}
def test_query_fields_sent_as_keywords_are_loaded(service):
    # The wire convention: query fields as keywords (the gateway's forwarder sends them so).
    assert len(ToyService.list_things(service, limit="3")) == 3
    with pytest.raises(ValidationFailed):
        ToyService.list_things(service, limit="many")
