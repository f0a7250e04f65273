"""The registry's contract: its operations, schemas and events (no models, no transport).

    services/registry/contract/operations.py   OPERATIONS: every HTTP operation
    services/registry/contract/schemas_*.py    request and response schemas, by aggregate
    services/registry/contract/events.py       EVENTS: one payload schema per event type
    services/registry/contract/vocabulary.py   the registry's own vocabularies
"""
from __future__ import annotations

from services.common.operations import Contract

from .events import EVENTS
from .operations import OPERATIONS

CONTRACT = Contract("registry", operations=OPERATIONS, events=EVENTS,
                    summary="Service catalogue, guides, institutions, windows, cases, training / 服务目录与机构",
                    open_clocks="list_review_clocks")
