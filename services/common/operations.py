"""Operations declared once, in a service's contract (no transport, no storage).

A service's `services/<name>/contract` package holds its request and response
schemas, its event payload types and a `CONTRACT`: the table of everything it
does. From that one table

- the shared pipeline (services.common.pipeline) exposes one RPC entrypoint per
  operation, checks the caller's role once, loads the input once, runs the domain
  function in a transaction, applies Idempotency-Key and dumps the result once;
- the gateway builds its routes and the OpenAPI document;
- docs/asyncapi.yaml is generated from the event types (services.common.asyncapi).

Calling convention of a generated RPC method (the gateway's, and any client's):
path parameters positionally in path order, then the body as `payload`, then
`idempotency_key=` (creating operations) and the query parameters as keywords.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_PATH_PARAM = re.compile(r"<(?:([^:>]+):)?([^>]+)>")


@dataclass(frozen=True)
class Operation:
    name: str              # RPC method name; the OpenAPI operationId is "<tag>_<name>"
    method: str            # HTTP method
    path: str              # werkzeug syntax relative to /api/v1, e.g. "/catalog/items/<code>"
    summary: str           # "English / 中文"
    handler: str           # the domain function, "module:function" inside the service's package
    roles: tuple[str, ...] | None = None   # None: public (a token sent is still verified); (): any caller
    body: Any = None       # request schema class (the JSON body, passed to the handler as `data`)
    query: Any = None      # query schema class (passed as `query`, and field by field)
    response: Any = None   # response schema class: the handler's return value is dumped with it
    many: bool = False     # the response is a list of `response`
    status: int = 200
    creates: bool = False  # takes an Idempotency-Key: the same key returns the same result, once
    problems: dict = field(default_factory=dict)       # HTTP status -> what it means here
    description: str = ""
    path_patterns: dict = field(default_factory=dict)  # path parameter -> regex (else the gateway's default)
    tag: str = ""          # OpenAPI tag; the service's name by default
    fixed: dict = field(default_factory=dict)          # constant keyword arguments for the handler
    writes: bool | None = None   # runs in a transaction; by default every method but GET
    media_type: str = "application/json"   # another type (e.g. text/calendar): the handler returns the body text
    # A file (an export): the media types it may have; the handler returns {"filename", "content_type",
    # "content": bytes} and the gateway answers the bytes with Content-Disposition (file_responses).
    files: tuple[str, ...] = ()
    # Response field -> HTTP status used instead of `status` when that field of the result is true
    # (e.g. a repeated sign-up answers 200 with the place already held, not 201).
    status_when: dict = field(default_factory=dict)

    @property
    def path_params(self) -> list[str]:
        return [name for _converter, name in _PATH_PARAM.findall(self.path)]

    @property
    def is_write(self) -> bool:
        return self.method != "GET" if self.writes is None else self.writes


@dataclass(frozen=True)
class EventType:
    """One event type and version a service publishes: its payload schema is the contract."""

    type: str              # e.g. "demand.closed"
    payload: Any           # marshmallow schema class of the envelope's `payload`
    summary: str           # "English / 中文"
    version: int = 1
    description: str = ""
    example: dict | None = None   # an example payload (the document shows it)


@dataclass(frozen=True)
class Contract:
    service: str
    operations: tuple[Operation, ...] = ()
    events: tuple[EventType, ...] = ()
    summary: str = ""
    # The staff-only RPC listing this service's open SLA clocks (called with the keywords
    # overdue= and calendar_gap=), composed by the gateway's GET /sla/clocks; None if it keeps none.
    open_clocks: str | None = None

    def __post_init__(self):
        names = [op.name for op in self.operations]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"{self.service}: operations declared twice: {sorted(dupes)}")
        keys = [(e.type, e.version) for e in self.events]
        if len(keys) != len(set(keys)):
            raise ValueError(f"{self.service}: an event type and version is declared twice")

    def operation(self, name: str) -> Operation:
        for op in self.operations:
            if op.name == name:
                return op
        raise KeyError(name)

    def event(self, event_type: str, version: int | None = None) -> EventType:
        matches = [e for e in self.events if e.type == event_type and (version is None or e.version == version)]
        if not matches:
            raise KeyError(f"{self.service} declares no event {event_type!r}" +
                           (f" version {version}" if version else ""))
        return max(matches, key=lambda e: e.version)
