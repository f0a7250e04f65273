"""The delivery service's contract: samples and custody, the report registry, the metrology ledger."""
from __future__ import annotations

from services.common.operations import Contract

from .events import EVENTS
from .operations import OPERATIONS

CONTRACT = Contract("delivery", operations=OPERATIONS, events=EVENTS, open_clocks="list_open_clocks",
                    summary="Samples from park stations to labs, the report registry with public verification, "
                            "the metrology ledger / 样品流转、报告登记与核验、计量器具台账")
