"""marshmallow validators with "中文 / English" messages (drop-in names for `marshmallow.validate`).

apispec renders these into the OpenAPI document exactly as marshmallow's own
(minLength/maxLength, minimum/maximum, enum, pattern), because they are subclasses.
"""
from __future__ import annotations

from marshmallow import validate as mv
from marshmallow.validate import And, Validator  # noqa: F401 (re-exported)

from .fields import MESSAGES, bilingual


class Length(mv.Length):
    message_min = bilingual("length_min")
    message_max = bilingual("length_max")
    message_all = bilingual("length_all")
    message_equal = bilingual("length_equal")


_OPS_ZH = {"gte": "大于或等于", "gt": "大于", "lte": "小于或等于", "lt": "小于"}


class Range(mv.Range):
    def __init__(self, min=None, max=None, *, min_inclusive=True, max_inclusive=True, error=None):
        min_op = "gte" if min_inclusive else "gt"
        max_op = "lte" if max_inclusive else "lt"
        ops = {"min_op": _OPS_ZH[min_op], "max_op": _OPS_ZH[max_op],
               "min_op_en": getattr(mv.Range, f"message_{min_op}"), "max_op_en": getattr(mv.Range, f"message_{max_op}")}
        super().__init__(min, max, min_inclusive=min_inclusive, max_inclusive=max_inclusive, error=error)
        # marshmallow formats its English message_* with the operators in __init__; ours replace them.
        for kind in ("min", "max", "all"):
            zh, en = MESSAGES[f"range_{kind}"]
            setattr(self, f"message_{kind}", f"{zh.format(**ops)} / {en.format(**ops)}")


class OneOf(mv.OneOf):
    default_message = bilingual("one_of")


class Regexp(mv.Regexp):
    default_message = bilingual("regexp")


class Email(mv.Email):
    default_message = bilingual("email")


class URL(mv.URL):
    default_message = bilingual("url")
