"""The feedback service's contract: evaluations, rectification, complaints, supervision rules,
quarterly statistics (clauses 6.4, 6.5, 7). Imports nothing from models, SQLAlchemy or nameko."""
from __future__ import annotations

from services.common.operations import Contract

from .events import EVENTS
from .operations import OPERATIONS

CONTRACT = Contract("feedback", operations=OPERATIONS, events=EVENTS, open_clocks="list_open_clocks",
                    summary="Evaluations, complaints, rectification, statistics / 评价、投诉、整改与统计")
