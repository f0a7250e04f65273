"""The AsyncAPI document (docs/asyncapi.yaml) is a usable, truthful public contract."""
from __future__ import annotations

import copy
import datetime as dt
import json
import re
import uuid

import jsonschema
import pytest
from jsonschema import Draft7Validator

from services.common import contracts, events

IDENTITY_TYPES = {"user.registered", "user.verified", "user.role_changed", "user.session_revoked",
                  "user.status_changed"}
REGISTRY_TYPES = {"institution.applied", "institution.approved", "institution.rejected", "institution.returned",
                  "institution.changed", "institution.deregistered", "qualification.expiring",
                  "capability.published", "catalogue.changed", "case.closed", "case.opened",
                  "window.services_changed", "training.attended"}
MATCHING_TYPES = {"demand.published", "demand.responded", "demand.recommended", "demand.connected",
                  "demand.referred", "demand.closed", "package.created"}
BOOKING_TYPES = {"instrument.published", "instrument.changed", "instrument.withdrawn", "booking.requested",
                 "booking.approved", "booking.rejected", "booking.cancelled", "booking.checked_in", "booking.completed",
                 "booking.no_show", "appointment.booked", "appointment.cancelled", "appointment.completed",
                 "appointment.no_show", "waitlist.offered", "waitlist.offer_lapsed"}
DELIVERY_TYPES = {"report.registered", "report.superseded", "report.withdrawn", "sample.received", "sample.dispatched",
                  "sample.accepted", "sample.exception", "sample.report_delivered", "sample.disposed",
                  "ledger.instrument_due", "ledger.instrument_overdue"}
# Which service's exchange carries each documented event type.



def _slice_sources() -> dict:
    """Event types of the new slices, from their contracts (each slice lands on its own)."""
    import importlib
    found = {}
    for service in ("booking", "feedback", "delivery"):
        try:
            contract = importlib.import_module(f"services.{service}.contract").CONTRACT
        except ModuleNotFoundError:
            continue
        found.update({e.type: service for e in contract.events})
    return found


SLICE_SOURCE = _slice_sources()
SHARED_TYPES = {"sla.clock_closed"}      # declared once in services.common.sla_events
PUBLISHERS = ("identity", "registry", "matching", "booking", "feedback", "delivery")
SOURCE_OF = {**{t: "identity" for t in IDENTITY_TYPES}, **{t: "registry" for t in REGISTRY_TYPES},
             **{t: "matching" for t in MATCHING_TYPES}, **SLICE_SOURCE}
ROLES = {"enterprise", "person", "institution", "window", "operator", "regulator", "admin"}

# Personal data that must never appear in an event. 18-character resident ID number
# (GB 11643: 6-digit area, birth date, 3-digit sequence, check digit or X) and
# mainland mobile numbers (11 digits starting 1[3-9], optionally +86). Lookarounds keep
# them from matching inside longer tokens such as UUID groups.
_EDGE_L, _EDGE_R = r"(?<![0-9A-Za-z])", r"(?![0-9A-Za-z])"
ID_NUMBER_RE = re.compile(
    _EDGE_L + r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx]" + _EDGE_R)
ID_NUMBER_LOOSE_RE = re.compile(_EDGE_L + r"\d{17}[0-9Xx]" + _EDGE_R)
MOBILE_RE = re.compile(r"(?<![0-9A-Za-z+])(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}" + _EDGE_R)
PII_PROPERTY_NAMES = {"id_number", "id_no", "id_card", "idcard", "identity_number", "phone", "mobile",
                      "phone_number", "mobile_number", "tel", "real_name", "realname", "legal_name",
                      "full_name", "name", "email", "address"}


@pytest.fixture(scope="module")
def doc():
    contracts.clear_cache()
    return contracts.load_asyncapi()


def _walk(node, path="$"):
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


def _channels(doc):
    return {cid: ch for cid, ch in doc["channels"].items()}


def _valid(event_type="user.registered"):
    return contracts.examples(event_type)[0]


# -- the document --------------------------------------------------------------
def test_document_parses_and_is_asyncapi_3(doc):
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] and doc["info"]["version"]
    assert doc["defaultContentType"] == "application/json"
    assert contracts.load_asyncapi() is doc  # cached


def test_every_ref_resolves(doc):
    refs = [(p, n["$ref"]) for p, n in _walk(doc) if isinstance(n, dict) and "$ref" in n]
    assert refs
    for where, ref in refs:
        assert ref.startswith("#/"), f"{where}: non-local $ref {ref}"
        contracts.resolve_pointer(doc, ref)  # raises ContractError if dangling


def test_servers(doc):
    local = doc["servers"]["local"]
    assert local["host"] == "localhost:5672"
    assert local["protocol"] == "amqp" and local["protocolVersion"] == "0-9-1"
    prod = doc["servers"]["production"]
    assert prod["protocol"] in {"amqp", "amqps"} and prod["protocolVersion"] == "0-9-1"
    assert prod.get("description")
    placeholders = set(re.findall(r"{(\w+)}", prod["host"] + prod.get("pathname", "")))
    assert placeholders and placeholders <= set(prod["variables"])
    for name, var in prod["variables"].items():
        assert "default" in var, name
        if "enum" in var:
            assert var["default"] in var["enum"]


def test_description_tells_a_subscriber_what_to_do(doc):
    text = " ".join(doc["info"]["description"].split())
    for needle in ("durable", "user.*", "`#`", "at least once", "duplicates", "`id`", "version",
                   "unknown fields", "kombu", "pika", "queue_bind", "identity.events"):
        assert needle in text, needle
    assert re.search(r"[\u4e00-\u9fff]", text), "Chinese description missing"
    for needle in ("至少一次", "去重", "版本", "忽略"):
        assert needle in text, needle


def test_documented_event_types(doc):
    assert DELIVERY_TYPES | BOOKING_TYPES <= set(SLICE_SOURCE)
    documented = IDENTITY_TYPES | REGISTRY_TYPES | MATCHING_TYPES | set(SLICE_SOURCE)
    assert contracts.event_types() == documented
    assert {ch["address"] for ch in _channels(doc).values()} == documented


def test_channels_bindings_and_operations(doc):
    operations = list(doc["operations"].values())
    for channel_id, channel in _channels(doc).items():
        address = channel["address"]
        amqp = contracts._deref(doc, channel["bindings"])["amqp"]
        assert amqp["is"] == "routingKey"
        exchange = amqp["exchange"]
        # A type every service publishes (sla.clock_closed) has one channel per service, named after it.
        source = (next(s for s in PUBLISHERS if channel_id.startswith(s)) if address in SHARED_TYPES
                  else SOURCE_OF[address])
        assert exchange == {"name": events.exchange_name(source), "type": "topic", "durable": True,
                            "autoDelete": False, "vhost": "/"}
        assert channel["messages"], channel_id
        for message_ref in channel["messages"].values():
            message = contracts._deref(doc, message_ref)
            assert message["contentType"] == "application/json"
            binding = message["bindings"]["amqp"]
            assert binding["messageType"] == address
            assert binding["contentEncoding"] == "utf-8"
            assert message["examples"], f"{address}: no example"
        # exactly one send operation per channel, pointing at the channel's own messages
        ops = [op for op in operations if op["channel"]["$ref"] == f"#/channels/{channel_id}"]
        assert len(ops) == 1, address
        op = ops[0]
        assert op["action"] == "send"
        for ref in op["messages"]:
            assert ref["$ref"].startswith(f"#/channels/{channel_id}/messages/")
            contracts.resolve_pointer(doc, ref["$ref"])
        op_binding = contracts._deref(doc, op["bindings"])["amqp"]
        assert op_binding["deliveryMode"] == 2


def test_message_schemas_are_valid_draft7_and_closed(doc):
    for event_type in IDENTITY_TYPES:
        schema = contracts.message_schema(event_type)
        Draft7Validator.check_schema(schema)
        assert "$ref" not in json.dumps(schema), "refs should be inlined"
    base = doc["components"]["schemas"]["EnvelopeBase"]
    assert base["additionalProperties"] is False
    assert set(base["required"]) == set(events.ENVELOPE_FIELDS)
    assert set(base["properties"]) == set(events.ENVELOPE_FIELDS)
    # data schemas stay open: subscribers must ignore unknown fields, publishers may add some
    for path, node in _walk(doc["components"]["schemas"]):
        if path.endswith("Data"):
            assert node.get("additionalProperties", True) is not False, path


# -- examples ---------------------------------------------------------------------
def test_every_channel_has_an_example_and_every_example_validates(doc):
    for event_type in IDENTITY_TYPES:
        found = contracts.examples(event_type)
        assert found, f"{event_type}: no example"
        for example in found:
            assert contracts.validate_envelope(example) == event_type
            assert example["type"] == event_type
            assert example["source"] == "identity"
            assert example["subject"] == example["data"]["user_id"]
            assert example["occurred_at"].endswith("Z")


def test_example_headers_match_header_schema(doc):
    for event_type in IDENTITY_TYPES:
        for message in contracts.messages(event_type):
            header_schema = contracts.inline_refs(doc, message["headers"])
            for example in message["examples"]:
                Draft7Validator(header_schema).validate(example["headers"])
                assert example["headers"]["event_version"] == example["payload"]["version"]


def test_examples_are_copies():
    first = contracts.examples("user.registered")[0]
    first["data"]["role"] = "mutated"
    assert contracts.examples("user.registered")[0]["data"]["role"] != "mutated"


# -- wrong envelopes fail --------------------------------------------------------
def _mutate(fn, event_type="user.registered"):
    envelope = _valid(event_type)
    fn(envelope)
    return envelope


BAD = {
    "missing id": lambda e: e.pop("id"),
    "missing data": lambda e: e.pop("data"),
    "extra top-level field": lambda e: e.update(phone="x"),
    "version as string": lambda e: e.update(version="1"),
    "version as bool": lambda e: e.update(version=True),
    "version 2 not documented": lambda e: e.update(version=2),
    "bad uuid": lambda e: e.update(id="not-a-uuid"),
    "uuid without dashes": lambda e: e.update(id=uuid.uuid4().hex),
    "occurred_at not UTC Z": lambda e: e.update(occurred_at="2025-03-14T10:15:09+08:00"),
    "occurred_at not a date": lambda e: e.update(occurred_at="yesterday"),
    "wrong source": lambda e: e.update(source="registry"),
    "subject not a user id": lambda e: e.update(subject=""),
    "data not an object": lambda e: e.update(data=[]),
    "unknown role": lambda e: e["data"].update(role="superuser"),
    "missing data.user_id": lambda e: e["data"].pop("user_id"),
    "nickname not a string": lambda e: e["data"].update(nickname=42),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_wrong_envelopes_fail(case):
    envelope = _mutate(BAD[case])
    with pytest.raises(jsonschema.ValidationError) as info:
        contracts.validate_envelope(envelope)
    assert "user.registered envelope does not match" in str(info.value)


def test_error_message_names_the_path():
    envelope = _mutate(lambda e: e["data"].update(role="superuser"))
    with pytest.raises(jsonschema.ValidationError) as info:
        contracts.validate_envelope(envelope)
    assert "$.data.role" in info.value.message and "superuser" in info.value.message


def test_type_of_another_event_with_its_data_fails():
    envelope = _valid("user.registered")
    envelope["type"] = "user.verified"
    with pytest.raises(jsonschema.ValidationError):
        contracts.validate_envelope(envelope)


def test_format_checking_catches_impossible_dates():
    envelope = _mutate(lambda e: e.update(occurred_at="2025-02-30T10:00:00Z"))
    assert contracts.validate_envelope(envelope, check_formats=False) == "user.registered"
    with pytest.raises(jsonschema.ValidationError, match="occurred_at"):
        contracts.validate_envelope(envelope)


def test_unknown_data_fields_are_allowed():
    envelope = _mutate(lambda e: e["data"].update(channel="web", referrer_program="expo-2025"))
    assert contracts.validate_envelope(envelope) == "user.registered"


def test_unknown_event_type():
    envelope = _mutate(lambda e: e.update(type="user.teleported"))
    with pytest.raises(KeyError) as info:
        contracts.validate_envelope(envelope)
    assert isinstance(info.value, ValueError)
    assert "user.teleported" in str(info.value) and "user.registered" in str(info.value)
    with pytest.raises(contracts.UnknownEventType):
        contracts.message_schema("nope.nothing")
    with pytest.raises(contracts.UnknownEventType):
        contracts.examples("nope.nothing")


def test_not_an_envelope():
    for value in ({}, {"type": 5}, [], "[]"):
        with pytest.raises(jsonschema.ValidationError):
            contracts.validate_envelope(value)


# -- what the platform builds validates -------------------------------------------
def test_make_envelope_validates():
    user_id = str(uuid.uuid4())
    now = dt.datetime.now(dt.timezone.utc)
    envelope = events.make_envelope("identity", "user.registered", user_id, {
        "user_id": user_id, "role": "person", "nickname": "quality-fan", "registered_at": events.iso_utc(now),
    })
    assert contracts.validate_envelope(envelope) == "user.registered"
    # as it goes over the wire (what the outbox stores and the relay publishes)
    body = events.dumps(envelope)
    assert contracts.validate_envelope(body) == "user.registered"
    assert contracts.validate_envelope(body.encode("utf-8")) == "user.registered"


@pytest.mark.parametrize("event_type,data", [
    ("user.verified", lambda uid, ts: {"user_id": uid, "aspect": "phone", "level": "phone_verified",
                                       "previous_level": "format_checked", "verified_at": ts}),
    ("user.role_changed", lambda uid, ts: {"user_id": uid, "old_role": "person", "new_role": "enterprise",
                                           "changed_by": str(uuid.uuid4())}),
    ("user.session_revoked", lambda uid, ts: {"user_id": uid, "sid": uuid.uuid4().hex, "revoked_at": ts,
                                              "expires_at": ts}),
    ("user.status_changed", lambda uid, ts: {"user_id": uid, "old_status": "active", "new_status": "disabled",
                                             "changed_by": str(uuid.uuid4()), "changed_at": ts}),
])
def test_make_envelope_validates_other_types(event_type, data):
    user_id = str(uuid.uuid4())
    naive = dt.datetime(2025, 1, 2, 3, 4, 5, 678901)  # naive datetimes are taken as UTC
    envelope = events.make_envelope("identity", event_type, user_id, data(user_id, events.iso_utc(naive)),
                                    occurred_at=naive)
    assert contracts.validate_envelope(envelope) == event_type


# -- no personal data in the published contract -----------------------------------
def _example_scalars(doc):
    """Every key and scalar inside any `examples` in the document."""
    for path, node in _walk(doc):
        if not path.endswith(".examples"):
            continue
        for inner_path, inner in _walk(node, path):
            if isinstance(inner, dict):
                for key in inner:
                    yield inner_path, str(key)
            elif isinstance(inner, (str, int, float)) and not isinstance(inner, bool):
                yield inner_path, str(inner)


def _pii_hits(text):
    return [rx.pattern for rx in (ID_NUMBER_RE, ID_NUMBER_LOOSE_RE, MOBILE_RE) if rx.search(text)]


def test_pii_regexes_themselves():
    fake_id = "11010519" + "491231" + "002X"  # synthetic, built so no literal sits in the source
    assert _pii_hits(fake_id) and _pii_hits(f"id: {fake_id.lower()}")
    assert _pii_hits("call 1" + "3812345678") and _pii_hits("+86 1" + "39-1234-5678")
    for clean in (str(uuid.uuid4()) for _ in range(200)):
        assert not _pii_hits(clean), clean
    assert not _pii_hits("2025-03-14T02:15:09.482113Z") and not _pii_hits("s7Kq2vXa9LmP4tRw")


def test_examples_contain_no_id_or_mobile_numbers(doc):
    scalars = list(_example_scalars(doc))
    assert len(scalars) > 20  # the walk actually found the examples
    hits = [(where, value) for where, value in scalars if _pii_hits(value)]
    assert not hits, f"personal data in examples: {hits}"


def test_whole_document_contains_no_id_or_mobile_numbers():
    text = contracts.ASYNCAPI_PATH.read_text(encoding="utf-8")
    hits = [line for line in text.splitlines() if _pii_hits(line)]
    assert not hits, hits


def test_data_schemas_have_no_personal_fields(doc):
    for event_type in IDENTITY_TYPES:
        for path, node in _walk(contracts.message_schema(event_type)):
            if isinstance(node, dict) and isinstance(node.get("properties"), dict):
                bad = {name.lower() for name in node["properties"]} & PII_PROPERTY_NAMES
                assert not bad, f"{event_type} {path}: {bad}"


def test_document_against_official_asyncapi_schema(doc):
    """Optional: set QI_ASYNCAPI_META_SCHEMA to the official AsyncAPI 3.0.0 JSON schema
    (asyncapi/spec-json-schemas, schemas/3.0.0-without-$id.json) to check the document with it."""
    import os
    from pathlib import Path
    meta = os.environ.get("QI_ASYNCAPI_META_SCHEMA")
    if not meta or not Path(meta).is_file():
        pytest.skip("QI_ASYNCAPI_META_SCHEMA not set")
    schema = json.loads(Path(meta).read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{list(e.absolute_path)}: {e.message[:200]}"
              for e in validator.iter_errors(json.loads(json.dumps(doc)))]
    assert not errors, errors
