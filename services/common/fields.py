"""The platform's marshmallow fields and validators: drop-in names for `marshmallow.fields` / `validate`.

Every schema of every service imports `fields` and `validate` from here, so three
rules hold everywhere without being repeated per field:

* Text never carries control characters. C0 (except tab/newline in multi-line
  text), DEL, C1 and lone surrogates are refused with a field error: PostgreSQL
  cannot store NUL, and the others corrupt logs, CSV exports and terminals.
  `String` is single-line; `MultilineString` (descriptions, notes, remarks,
  addresses of several lines) allows `\\t`, `\\n` and `\\r\\n`. Free JSON
  (`Dict`, `Raw`) is walked and held to the single-line rule in keys and values.
* JSON bodies are typed strictly: `true`/`false` only for booleans (not 0/1 or
  "yes"), integers are JSON integers, numbers are JSON numbers (not strings).
  Query strings are text by nature; the gateway loads them inside `query_mode()`,
  where "12" is an integer and "true"/"false" are booleans.
* Messages are "中文 / English" (table `MESSAGES`, keyed by marshmallow's message
  keys); the gateway keeps the half the client's Accept-Language asks for
  (services.common.lang).

The OpenAPI document shows each rule: a text field carries a `pattern` that
excludes control characters (and, with `blank=False`, blank text), so a client
that follows the document is never refused for a reason it could not know.
"""
from __future__ import annotations

import contextlib
import contextvars
import re

from marshmallow import ValidationError, fields as mf, validate as mv

# -- messages ----------------------------------------------------------------------------

MESSAGES = {
    "required": ("缺少必填字段", "Missing data for required field."),
    "null": ("不能为 null", "Field may not be null."),
    "validator_failed": ("值无效", "Invalid value."),
    "type": ("类型无效", "Invalid type."),
    "unknown": ("未知字段", "Unknown field."),
    "schema_type": ("须为 JSON 对象", "Invalid input type."),
    "string": ("不是有效的字符串", "Not a valid string."),
    "utf8": ("不是有效的 UTF-8 字符串", "Not a valid utf-8 string."),
    "control": ("不能包含控制字符", "must not contain control characters."),
    "multiline_control": ("不能包含控制字符（仅允许制表符和换行）",
                          "must not contain control characters other than tab and newline."),
    "blank": ("不能为空白", "must not be blank."),
    "integer": ("不是有效的整数", "Not a valid integer."),
    "number": ("不是有效的数字", "Not a valid number."),
    "too_large": ("数字过大", "Number too large."),
    "special": ("不允许 NaN 或无穷大", "Special numeric values (nan or infinity) are not permitted."),
    "boolean": ("须为 true 或 false", "Not a valid boolean: use true or false."),
    "list": ("不是有效的列表", "Not a valid list."),
    "mapping": ("不是有效的对象", "Not a valid mapping type."),
    "date": ("不是有效的日期（YYYY-MM-DD）", "Not a valid date (YYYY-MM-DD)."),
    "datetime": ("不是有效的日期时间（ISO 8601）", "Not a valid datetime (ISO 8601)."),
    "aware": ("须为带时区偏移的日期时间", "Not a valid aware datetime: give an offset."),
    "url": ("不是有效的网址", "Not a valid URL."),
    "email": ("不是有效的电子邮箱", "Not a valid email address."),
    "uuid": ("不是有效的 UUID", "Not a valid UUID."),
    # validators (placeholders are marshmallow's)
    "length_min": ("长度不能小于 {min}", "Shorter than minimum length {min}."),
    "length_max": ("长度不能大于 {max}", "Longer than maximum length {max}."),
    "length_all": ("长度须在 {min} 到 {max} 之间", "Length must be between {min} and {max}."),
    "length_equal": ("长度须为 {equal}", "Length must be {equal}."),
    "range_min": ("须{min_op} {{min}}", "Must be {min_op_en} {{min}}."),
    "range_max": ("须{max_op} {{max}}", "Must be {max_op_en} {{max}}."),
    "range_all": ("须{min_op} {{min}} 且{max_op} {{max}}", "Must be {min_op_en} {{min}} and {max_op_en} {{max}}."),
    "one_of": ("须为以下之一：{choices}", "Must be one of: {choices}."),
    "regexp": ("格式不符", "String does not match expected pattern."),
}


def bilingual(key: str) -> str:
    zh, en = MESSAGES[key]
    return f"{zh} / {en}"


def _messages(**keys: str) -> dict:
    base = {"required": "required", "null": "null", "validator_failed": "validator_failed"}
    base.update(keys)
    return {name: bilingual(key) for name, key in base.items()}


# -- text ---------------------------------------------------------------------------------

# C0 controls, DEL, C1 controls and lone surrogates (which JSON can carry as \\udXXX).
_CONTROL_SINGLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_MULTI = re.compile(r"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]|\r(?!\n)")
# The same rules as JSON Schema patterns (ECMA 262), written with escapes so the
# document stays plain ASCII.
_CTRL = r"\u0000-\u001f\u007f-\u009f"
_CTRL_MULTI = r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f"
PATTERN_SINGLE = f"^[^{_CTRL}]*$"
PATTERN_SINGLE_NOT_BLANK = f"^[^{_CTRL}]*[^\\s{_CTRL}][^{_CTRL}]*$"
PATTERN_MULTI = f"^[^{_CTRL_MULTI}]*$"
PATTERN_MULTI_NOT_BLANK = f"^[^{_CTRL_MULTI}]*[^\\s{_CTRL_MULTI}][^{_CTRL_MULTI}]*$"


def check_text(value: str, multiline: bool = False) -> None:
    """Raise a field error when `value` holds a character no text field accepts."""
    if (_CONTROL_MULTI if multiline else _CONTROL_SINGLE).search(value):
        raise ValidationError(bilingual("multiline_control" if multiline else "control"))


class String(mf.String):
    """Single-line text without control characters (tab and newline refused too).

    `blank=False` also refuses text that is only whitespace (and says so in the document).
    """

    multiline = False
    default_error_messages = _messages(invalid="string", invalid_utf8="utf8")

    def __init__(self, *args, blank: bool = True, **kwargs):
        self.blank = blank
        super().__init__(*args, **kwargs)
        # The rule as a JSON Schema pattern, for the document's request schemas (the gateway
        # adds it there; responses are not held to it). A Regexp validator states its own.
        self.text_pattern = None
        if not any(isinstance(v, mv.Regexp) for v in self.validators) and "pattern" not in self.metadata:
            if self.multiline:
                self.text_pattern = PATTERN_MULTI if blank else PATTERN_MULTI_NOT_BLANK
            else:
                self.text_pattern = PATTERN_SINGLE if blank else PATTERN_SINGLE_NOT_BLANK

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        check_text(text, self.multiline)
        if not self.blank and not text.strip():
            raise ValidationError(bilingual("blank"))
        return text


class MultilineString(String):
    """Text of several lines (descriptions, notes, remarks): tab, newline and CRLF allowed."""

    multiline = True


Str = String


class Url(String, mf.Url):
    default_error_messages = _messages(invalid="url", invalid_utf8="utf8")


class Email(String, mf.Email):
    default_error_messages = _messages(invalid="email", invalid_utf8="utf8")


# -- strict scalars -----------------------------------------------------------------------

_query = contextvars.ContextVar("qi_query_mode", default=False)


@contextlib.contextmanager
def query_mode():
    """Load a query string: its values are text, so "12" may be an integer and "true" a boolean."""
    token = _query.set(True)
    try:
        yield
    finally:
        _query.reset(token)


class Integer(mf.Integer):
    """A JSON integer (not 1.5, not "1", not true; 1.0 is 1, as in JSON Schema); in a query string, digits."""

    default_error_messages = _messages(invalid="integer", too_large="too_large")

    def _validated(self, value):
        if _query.get() and isinstance(value, str):
            if not re.fullmatch(r"-?\d{1,18}", value):
                raise self.make_error("invalid", input=value)
            value = int(value)
        if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 63:
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class Float(mf.Float):
    """A JSON number (not "1.5", not true); in a query string, a decimal number."""

    default_error_messages = _messages(invalid="number", too_large="too_large", special="special")

    def _validated(self, value):
        if _query.get() and isinstance(value, str):
            if not re.fullmatch(r"-?\d{1,15}(\.\d{1,15})?", value):
                raise self.make_error("invalid", input=value)
            value = float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class Number(mf.Number):
    default_error_messages = _messages(invalid="number", too_large="too_large")


class Decimal(mf.Decimal):
    default_error_messages = _messages(invalid="number", too_large="too_large", special="special")

    def _validated(self, value):
        if isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class Boolean(mf.Boolean):
    """JSON true/false only (marshmallow's own also takes 0, 1, "yes", "on"…); "true"/"false" in a query."""

    default_error_messages = _messages(invalid="boolean")

    def _deserialize(self, value, attr, data, **kwargs):
        if value is True or value is False:
            return value
        if _query.get() and value in ("true", "false"):
            return value == "true"
        raise self.make_error("invalid", input=value)


# -- structure ----------------------------------------------------------------------------

class List(mf.List):
    default_error_messages = _messages(invalid="list")


class Nested(mf.Nested):
    default_error_messages = _messages(type="schema_type")


def _walk(value, depth: int = 0, multiline: bool = False) -> None:
    if depth > 32:
        raise ValidationError("嵌套过深 / nested too deeply")
    if isinstance(value, str):
        check_text(value, multiline)
    elif isinstance(value, dict):
        for key, item in value.items():
            _walk(key, depth + 1)
            _walk(item, depth + 1, multiline)
    elif isinstance(value, list):
        for item in value:
            _walk(item, depth + 1, multiline)


class Dict(mf.Dict):
    """A JSON object; keys are single-line text, and so is every string inside unless `multiline=True`."""

    default_error_messages = _messages(invalid="mapping")

    def __init__(self, *args, multiline: bool = False, **kwargs):
        self.multiline = multiline
        super().__init__(*args, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        _walk(result, multiline=self.multiline)
        return result


class Raw(mf.Raw):
    def _deserialize(self, value, attr, data, **kwargs):
        _walk(value)
        return super()._deserialize(value, attr, data, **kwargs)


class Date(mf.Date):
    default_error_messages = _messages(invalid="date", format="date")


class DateTime(mf.DateTime):
    default_error_messages = _messages(invalid="datetime", invalid_awareness="aware", format="datetime")


class AwareDateTime(mf.AwareDateTime):
    default_error_messages = _messages(invalid="datetime", invalid_awareness="aware", format="datetime")


class UUID(mf.UUID):
    default_error_messages = _messages(invalid_uuid="uuid")


Field = mf.Field
Pluck = mf.Pluck
Method = mf.Method
Function = mf.Function
Constant = mf.Constant


def check_call_arguments(*args, **kwargs) -> None:
    """Refuse control characters in the plain arguments of an RPC (path ids, codes, numbers).

    Payloads are checked by their schemas; ids travel as bare arguments and go to
    databases too. A service entrypoint (or the method itself) calls this before any
    work; the gateway already refuses such path parameters, but the broker is reachable
    by more than the gateway.
    """
    from .errors import ValidationFailed
    bad = {}
    for name, value in [*((f"arg{i}", v) for i, v in enumerate(args)), *kwargs.items()]:
        if isinstance(value, str):
            try:
                check_text(value)
            except ValidationError as exc:
                bad[name] = exc.messages
    if bad:
        raise ValidationFailed("Some arguments are invalid / 部分参数无效", errors=bad)
