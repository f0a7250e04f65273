"""identity's event payload types (contract/events.py) are the `data` schemas of docs/asyncapi.yaml,
and record_event refuses a payload that does not match its type."""
from __future__ import annotations

import uuid

import pytest
import yaml

from services.common import contracts
from services.common.outbox import record_event
from services.identity.contract import CONTRACT

DOC = yaml.safe_load(contracts.ASYNCAPI_PATH.read_text(encoding="utf-8"))
SCHEMAS = DOC["components"]["schemas"]
JSON_TYPES = {"String": "string", "Integer": "integer", "Boolean": "boolean"}


def _data_schema(event_type: str) -> dict:
    name = "".join(part.capitalize() for part in event_type.replace(".", "_").split("_")) + "Data"
    return SCHEMAS[name]


def _resolve(prop: dict) -> dict:
    while "$ref" in prop or "allOf" in prop:
        prop = {**SCHEMAS[(prop.get("$ref") or prop["allOf"][0]["$ref"]).rsplit("/", 1)[1]],
                **{k: v for k, v in prop.items() if k not in ("$ref", "allOf")}}
    return prop


@pytest.mark.parametrize("event", CONTRACT.events, ids=lambda e: e.type)
def test_payload_schema_is_the_documented_data_schema(event):
    documented = _data_schema(event.type)
    fields = event.payload().fields
    assert set(fields) == set(documented["properties"])
    assert {n for n, f in fields.items() if f.required} == set(documented["required"])
    for name, field in fields.items():
        prop = _resolve(documented["properties"][name])
        types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
        assert JSON_TYPES[type(field).__name__] in types, name
        assert field.allow_none == ("null" in types), name
        choices = getattr(next((v for v in field.validators if hasattr(v, "choices")), None), "choices", None)
        if "enum" in prop:
            assert set(choices) == {v for v in prop["enum"] if v is not None}, name
        for key in ("format", "pattern"):
            if key in prop:
                assert (field.metadata.get(key) or next((v.regex.pattern for v in field.validators
                                                         if key == "pattern" and hasattr(v, "regex")), None)) \
                    == prop[key], (name, key)


@pytest.mark.parametrize("event", CONTRACT.events, ids=lambda e: e.type)
def test_documented_examples_load(event):
    for example in contracts.examples(event.type):
        assert event.payload().validate(example["data"]) == {}


def test_every_recorded_type_is_declared_and_record_event_validates(db):
    user_id = str(uuid.uuid4())
    good = {"user_id": user_id, "role": "person", "nickname": "n", "registered_at": "2026-11-25T12:00:00Z"}
    with db.transaction() as session:
        record_event(session, "identity", "user.registered", user_id, good)
        for bad in ({**good, "user_id": "13700001111"}, {**good, "phone": "13700001111"},
                    {k: v for k, v in good.items() if k != "nickname"}, {**good, "registered_at": "yesterday"}):
            with pytest.raises(ValueError):
                record_event(session, "identity", "user.registered", user_id, bad)
        with pytest.raises(KeyError):
            record_event(session, "identity", "user.teleported", user_id, good)
