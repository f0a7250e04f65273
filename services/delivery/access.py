"""Who may see and do what in the delivery slice (object-level rules; roles are checked by the pipeline)."""
from __future__ import annotations

from services.common.errors import Forbidden, NotFound
from services.common.platform import OPERATORS, STAFF_READERS


def is_staff_reader(principal: dict | None) -> bool:
    return bool(principal) and principal.get("role") in STAFF_READERS


def is_operator(principal: dict | None) -> bool:
    return bool(principal) and principal.get("role") in OPERATORS


def institution_of(principal: dict) -> str:
    """The institution an institution account acts for (a claim of its signed token)."""
    institution_id = principal.get("institution_id")
    if principal.get("role") != "institution" or not institution_id:
        raise Forbidden("This account acts for no institution / 该账号未关联服务机构", code="no_institution")
    return str(institution_id)


def station_of(principal: dict) -> str:
    """The park station (a window of the registry) a window account serves."""
    if principal.get("role") == "window" and principal.get("window_id"):
        return str(principal["window_id"])
    raise Forbidden("This account serves no park station / 该账号未关联园区驿站", code="no_station")


def not_found(what_en: str, what_zh: str, code: str) -> NotFound:
    return NotFound(f"No such {what_en} / 无此{what_zh}", code=code)
