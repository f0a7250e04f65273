"""Event contracts: the AsyncAPI document `docs/asyncapi.yaml` as a validator.

The document is the public description of every event the platform publishes (see
shared API.md section 2). This module reads it and checks envelopes against it, so a
service (or a test) can prove that what it publishes is what the document promises:

    from services.common import contracts
    contracts.event_types()                    # {"user.registered", ...}
    contracts.validate_envelope(envelope)      # raises jsonschema.ValidationError
    contracts.examples("user.registered")      # example envelopes from the document
    contracts.message_schema("user.verified")  # standalone JSON Schema (draft-07)

Message payloads in the document use local `$ref`s (`#/components/...`); the schemas
returned here have them inlined, so any JSON Schema draft-07 validator can use them.
Formats `uuid` and `date-time` are checked without optional jsonschema extras.
"""
from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import re
import uuid
from pathlib import Path
from typing import Any, Iterator

import jsonschema
import yaml
from jsonschema import Draft7Validator, FormatChecker

REPO = Path(__file__).resolve().parents[2]
ASYNCAPI_PATH = REPO / "docs" / "asyncapi.yaml"
JSON_SCHEMA_DIALECT = "http://json-schema.org/draft-07/schema#"


class UnknownEventType(KeyError, ValueError):
    """The event type is not documented in the AsyncAPI document."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "unknown event type"


class ContractError(ValueError):
    """The AsyncAPI document itself is broken (dangling or circular $ref, ...)."""


# -- formats -----------------------------------------------------------------
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DATE_TIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

FORMAT_CHECKER = FormatChecker(formats=())


@FORMAT_CHECKER.checks("uuid", raises=ValueError)
def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True  # formats apply to strings only
    if not _UUID_RE.match(value):
        return False
    uuid.UUID(value)
    return True


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    """RFC 3339 date-time (what JSON Schema's `date-time` means)."""
    if not isinstance(value, str):
        return True
    if not _DATE_TIME_RE.match(value):
        return False
    text = value.upper().replace("Z", "+00:00")
    dt.datetime.fromisoformat(text)  # ValueError on impossible dates/times
    return True


# -- loading -----------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def _load(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    if not isinstance(document, dict):
        raise ContractError(f"{path}: not a YAML mapping")
    return document


def load_asyncapi(path: str | Path | None = None) -> dict:
    """The parsed AsyncAPI document (cached per path; treat it as read-only)."""
    return _load(str(Path(path or ASYNCAPI_PATH).resolve()))


def clear_cache() -> None:
    _load.cache_clear()
    _index.cache_clear()
    _validator.cache_clear()


def resolve_pointer(document: dict, ref: str) -> Any:
    """The node a local reference (`#/components/schemas/X`) points to."""
    if not ref.startswith("#"):
        raise ContractError(f"only local $refs are supported, got {ref!r}")
    node: Any = document
    pointer = ref[1:]
    if not pointer:
        return node
    for raw in pointer.lstrip("/").split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise ContractError(f"dangling $ref {ref!r} (no {part!r})") from None
    return node


def _deref(document: dict, node: Any) -> Any:
    """Follow a chain of `$ref`s to a non-reference node."""
    seen = []
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if ref in seen:
            raise ContractError(f"circular $ref {' -> '.join(seen + [ref])}")
        seen.append(ref)
        node = resolve_pointer(document, ref)
    return node


def inline_refs(document: dict, node: Any, _stack: tuple = ()) -> Any:
    """Deep copy of `node` with every local `$ref` replaced by what it points to.

    A `$ref` with sibling keywords keeps the siblings (draft-07 ignores them, so
    they are only annotations in a well-formed document).
    """
    if isinstance(node, list):
        return [inline_refs(document, item, _stack) for item in node]
    if not isinstance(node, dict):
        return copy.deepcopy(node)
    if "$ref" in node and isinstance(node["$ref"], str):
        ref = node["$ref"]
        if ref in _stack:
            raise ContractError(f"circular $ref {' -> '.join(_stack + (ref,))}")
        target = inline_refs(document, resolve_pointer(document, ref), _stack + (ref,))
        siblings = {k: inline_refs(document, v, _stack) for k, v in node.items() if k != "$ref"}
        if siblings and isinstance(target, dict):
            return {**target, **siblings}
        return target
    return {key: inline_refs(document, value, _stack) for key, value in node.items()}


# -- index: event type -> messages -------------------------------------------
def _apply_traits(document: dict, message: dict) -> dict:
    """A message with its traits applied (the message's own fields win)."""
    merged: dict = {}
    for trait in message.get("traits", []) or []:
        merged.update(_deref(document, trait))
    merged.update({k: v for k, v in message.items() if k != "traits"})
    return merged


@functools.lru_cache(maxsize=8)
def _index(path: str) -> dict[str, list[dict]]:
    document = _load(path)
    index: dict[str, list[dict]] = {}
    for channel_id, channel in (document.get("channels") or {}).items():
        channel = _deref(document, channel)
        address = channel.get("address")
        if not address:
            raise ContractError(f"channel {channel_id!r} has no address (routing key)")
        messages = [_apply_traits(document, _deref(document, m))
                    for m in (channel.get("messages") or {}).values()]
        if not messages:
            raise ContractError(f"channel {channel_id!r} ({address}) has no messages")
        index.setdefault(address, []).extend(messages)
    return index


def _messages(event_type: str, path: str | Path | None) -> list[dict]:
    load_asyncapi(path)
    index = _index(str(Path(path or ASYNCAPI_PATH).resolve()))
    try:
        return index[event_type]
    except (KeyError, TypeError):
        known = ", ".join(sorted(index)) or "none"
        raise UnknownEventType(
            f"event type {event_type!r} is not documented in docs/asyncapi.yaml "
            f"(documented: {known})") from None


def event_types(path: str | Path | None = None) -> set[str]:
    """The routing keys (= event types) the document describes."""
    load_asyncapi(path)
    return set(_index(str(Path(path or ASYNCAPI_PATH).resolve())))


def messages(event_type: str, path: str | Path | None = None) -> list[dict]:
    """The AsyncAPI message objects (traits applied, payload not inlined) for a type."""
    return copy.deepcopy(_messages(event_type, path))


def message_schema(event_type: str, path: str | Path | None = None) -> dict:
    """Standalone JSON Schema (draft-07, all $refs inlined) of the envelope of a type."""
    document = load_asyncapi(path)
    payloads = [inline_refs(document, m["payload"]) for m in _messages(event_type, path)
                if "payload" in m]
    if not payloads:
        raise ContractError(f"{event_type}: the message has no payload schema")
    schema = payloads[0] if len(payloads) == 1 else {"oneOf": payloads}
    schema = {"$schema": JSON_SCHEMA_DIALECT, **schema}
    schema.setdefault("title", f"{event_type} envelope")
    return schema


def examples(event_type: str, path: str | Path | None = None) -> list[dict]:
    """The example envelopes (message example payloads) documented for a type."""
    result = []
    for message in _messages(event_type, path):
        for example in message.get("examples", []) or []:
            if "payload" in example:
                result.append(copy.deepcopy(example["payload"]))
    return result


@functools.lru_cache(maxsize=64)
def _validator(event_type: str, path: str, check_formats: bool) -> Draft7Validator:
    schema = message_schema(event_type, path)
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema, format_checker=FORMAT_CHECKER if check_formats else None)


def _generic_validator(path: str, check_formats: bool) -> Draft7Validator:
    document = load_asyncapi(path)
    base = resolve_pointer(document, "#/components/schemas/EnvelopeBase")
    schema = {"$schema": JSON_SCHEMA_DIALECT, **inline_refs(document, base)}
    return Draft7Validator(schema, format_checker=FORMAT_CHECKER if check_formats else None)


def _where(error: jsonschema.ValidationError) -> str:
    where = "$"
    for part in error.absolute_path:
        where += f"[{part}]" if isinstance(part, int) else f".{part}"
    return where


def _raise(label: str, errors: list[jsonschema.ValidationError]) -> None:
    best = jsonschema.exceptions.best_match(errors)
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    raise jsonschema.ValidationError(
        f"{label} does not match docs/asyncapi.yaml at {_where(best)}: {best.message}{more}",
        validator=best.validator, path=best.absolute_path, cause=best.cause, context=best.context,
        validator_value=best.validator_value, instance=best.instance, schema=best.schema,
        schema_path=best.absolute_schema_path,
    )


def iter_errors(envelope: Any, path: str | Path | None = None,
                check_formats: bool = True) -> Iterator[jsonschema.ValidationError]:
    """All schema violations of an envelope (dict, or its JSON text)."""
    resolved = str(Path(path or ASYNCAPI_PATH).resolve())
    if isinstance(envelope, (bytes, bytearray)):
        envelope = envelope.decode("utf-8")
    if isinstance(envelope, str):
        envelope = json.loads(envelope)
    event_type = envelope.get("type") if isinstance(envelope, dict) else None
    if not isinstance(event_type, str):
        # Not even an envelope: report against the shared envelope schema.
        yield from _generic_validator(resolved, check_formats).iter_errors(envelope)
        return
    _messages(event_type, resolved)  # UnknownEventType for undocumented types
    yield from _validator(event_type, resolved, check_formats).iter_errors(envelope)


def validate_envelope(envelope: Any, path: str | Path | None = None, check_formats: bool = True) -> str:
    """Check an envelope (dict, or its JSON body) against its documented message schema.

    Returns the event type. Raises `jsonschema.ValidationError` (message names the
    event type and the JSON path of the problem) if it does not match, and
    `UnknownEventType` (a KeyError and a ValueError) if its type is not documented.
    """
    errors = list(iter_errors(envelope, path, check_formats))
    if isinstance(envelope, (bytes, bytearray, str)):
        envelope = json.loads(envelope)
    event_type = envelope.get("type") if isinstance(envelope, dict) else None
    if errors:
        label = f"{event_type} envelope" if isinstance(event_type, str) else "envelope"
        _raise(label, errors)
    return event_type
