"""The booking slice's contract: shared instruments, bookings and window appointments."""
from services.common.operations import Contract

from .events import EVENTS
from .operations import OPERATIONS

CONTRACT = Contract("booking", operations=OPERATIONS, events=EVENTS, open_clocks="list_open_clocks",
                    summary="Shared instruments (Appendix B), bookings and window appointments (4.2.2.3) / "
                            "仪器共享与窗口预约")
