"""Money: Decimal yuan with two places, one JSON form everywhere.

Every amount of money in the API and in events is a JSON *string* of a decimal
number of yuan, e.g. "1200.00": never a JSON number, because a binary float
cannot hold 0.10 and sums of shares would drift by a fen. Requests may leave
out the decimals ("1200") or give one or two places; a third place, a sign, an
exponent, leading zeros or a JSON number is refused (422), so what is stored is
exactly what was sent. Responses and events always carry two places.

In Python an amount is a `decimal.Decimal` quantized to 0.01, in the databases
`Numeric(precision, 2)`. (SQLite has no decimal type: it keeps NUMERIC values as
8-byte reals, exact for the at most 13 significant digits used here, and
SQLAlchemy hands them back as Decimal quantized to the column's scale.)
"""
from __future__ import annotations

import decimal
import re
from decimal import Decimal

from marshmallow import fields

CENT = Decimal("0.01")
# Integer digits; a pattern per bound keeps the documented form and the check one thing.
_PATTERN = r"^(0|[1-9][0-9]{0,%d})(\.[0-9]{1,2})?$"


def to_money(value) -> Decimal | None:
    """An amount as Decimal with two places (None stays None).

    Accepts what may be found in stored data or older events: Decimal, int, a
    decimal string, and a JSON number (read through its shortest repr, so 650.1
    is 650.10, not the binary float's 650.1000000000000227...).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"not an amount of money: {value!r}")
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = Decimal(value) if not isinstance(value, Decimal) else value
    except (decimal.InvalidOperation, TypeError, ValueError):
        raise ValueError(f"not an amount of money: {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"not an amount of money: {value!r}")
    return amount.quantize(CENT, rounding=decimal.ROUND_HALF_UP)


def money_str(value) -> str | None:
    """The JSON form: "1200.00" (None stays None)."""
    amount = to_money(value)
    return None if amount is None else f"{amount:.2f}"


class Money(fields.Decimal):
    """A non-negative amount of yuan below 10**integer_digits, as a JSON string.

    Loads a string in the documented form (or a Decimal: the gateway passes loaded
    bodies over RPC and the service loads them again); dumps "1200.00".
    """

    default_error_messages = {
        "invalid_money": "金额须为字符串形式的元，最多两位小数，例如 \"1200.00\" / "
                         "an amount of yuan as a string with at most two decimals, e.g. \"1200.00\"",
    }

    def __init__(self, integer_digits: int = 10, **kwargs):
        self.pattern = re.compile(_PATTERN % (integer_digits - 1))
        self.maximum = Decimal(10) ** integer_digits - CENT
        metadata = dict(kwargs.pop("metadata", None) or {})
        # OpenAPI: a string (marshmallow's Decimal would be rendered as a number).
        metadata.setdefault("type", "string")  # apispec adds "null" for allow_none
        metadata.setdefault("pattern", self.pattern.pattern)
        metadata.setdefault("example", "1200.00")
        description = f"Yuan as a decimal string, 0 to {self.maximum} / 金额（元），字符串，最多两位小数"
        metadata["description"] = (metadata["description"] + ". " + description
                                   if metadata.get("description") else description)
        super().__init__(places=2, rounding=decimal.ROUND_HALF_UP, allow_nan=False, as_string=True,
                         metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, Decimal):
            # A Decimal from our own load: the same rules as its string form, trailing zeros aside.
            text = format(value.normalize(), "f") if value.is_finite() else "x"
        elif isinstance(value, str):
            text = value
        else:
            raise self.make_error("invalid_money")
        if not self.pattern.fullmatch(text):
            raise self.make_error("invalid_money")
        return super()._deserialize(text, attr, data, **kwargs)
