"""Matching's contract: its operations, schemas and events (no models, no SQLAlchemy, no nameko).

The gateway builds matching's routes and OpenAPI from CONTRACT; the service exposes
each operation through the shared pipeline (services.common.pipeline).
"""
from __future__ import annotations

from services.common.operations import Contract

from .events import EVENTS
from .operations import OPERATIONS

CONTRACT = Contract("matching", operations=OPERATIONS, events=EVENTS,
                    summary="search, demands, recommendations, standards / 需求对接",
                    open_clocks="list_open_clocks")

__all__ = ["CONTRACT"]
