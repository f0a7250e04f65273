"""The identity service's contract: its operations, schemas and events (no transport, no storage).

Imports nothing from services.identity's models, SQLAlchemy or nameko: the
gateway loads it to build routes and documents without loading identity's ORM.
"""
from __future__ import annotations

from services.common.operations import Contract

from .events import EVENTS
from .operations import OPERATIONS

CONTRACT = Contract("identity", operations=OPERATIONS, events=EVENTS, open_clocks="list_open_clocks",
                    summary="Users, verification, roles and sessions (身份与账户).")

__all__ = ["CONTRACT"]
