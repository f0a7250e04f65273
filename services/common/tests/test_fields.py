"""The shared fields: no control characters in text, strict JSON types, bilingual messages."""
from __future__ import annotations

import pytest
from marshmallow import ValidationError

from services.common import fields, validate
from services.common.schemas import Schema, load
from services.common.errors import ValidationFailed


class Sample(Schema):
    name = fields.String(validate=validate.Length(max=20))
    notes = fields.MultilineString()
    tight = fields.String(blank=False)
    flag = fields.Boolean()
    count = fields.Integer(validate=validate.Range(min=0, max=10))
    price = fields.Float()
    extra = fields.Dict()
    tags = fields.List(fields.String())


@pytest.mark.parametrize("bad", ["a\u0000b", "\u001b[31m", "x\u007f", "x\u0085", "x\u009f", "x\ud800"])
@pytest.mark.parametrize("field", ["name", "notes", "tight"])
def test_control_characters_are_refused_in_every_text_field(field, bad):
    with pytest.raises(ValidationError) as exc:
        Sample().load({field: bad})
    assert "控制字符" in exc.value.messages[field][0] and "control characters" in exc.value.messages[field][0]


def test_tab_and_newline_only_in_multiline_text():
    assert Sample().load({"notes": "line 1\r\nline 2\n\tindented"})["notes"] == "line 1\r\nline 2\n\tindented"
    for single in ("a\nb", "a\tb", "a\rb"):
        with pytest.raises(ValidationError):
            Sample().load({"name": single})
    with pytest.raises(ValidationError):  # a lone CR is not a line break
        Sample().load({"notes": "a\rb"})


def test_text_inside_lists_and_free_objects_is_checked_too():
    with pytest.raises(ValidationError) as exc:
        Sample().load({"tags": ["ok", "a\u0000"]})
    assert 1 in exc.value.messages["tags"]
    for bad in ({"k\u0000": "v"}, {"k": {"deep": ["\u0000"]}}):
        with pytest.raises(ValidationError):
            Sample().load({"extra": bad})
    assert Sample().load({"extra": {"k": ["v", 1, None]}})["extra"] == {"k": ["v", 1, None]}


def test_blank_text_refused_where_blank_false():
    with pytest.raises(ValidationError) as exc:
        Sample().load({"tight": " \u3000 "})
    assert exc.value.messages["tight"] == ["不能为空白 / must not be blank."]


@pytest.mark.parametrize("value", [0, 1, "true", "yes", "on", None])
def test_json_booleans_are_true_or_false_only(value):
    with pytest.raises(ValidationError):
        Sample().load({"flag": value})


def test_numbers_are_json_numbers_in_bodies():
    assert Sample().load({"count": 5.0, "price": 3})["count"] == 5
    for bad in ({"count": "5"}, {"count": 5.5}, {"count": True}, {"price": "1.5"}, {"price": False}):
        with pytest.raises(ValidationError):
            Sample().load(bad)


def test_query_strings_are_text_and_typed_inside_query_mode():
    with fields.query_mode():
        assert Sample().load({"flag": "false", "count": "7", "price": "2.5"}) == {"flag": False, "count": 7,
                                                                                 "price": 2.5}
        for bad in ({"flag": "1"}, {"count": "7.0"}, {"count": "x"}):
            with pytest.raises(ValidationError):
                Sample().load(bad)
    with pytest.raises(ValidationError):  # the mode ends with the block
        Sample().load({"count": "7"})


def test_messages_are_chinese_and_english():
    class Required(Schema):
        x = fields.String(required=True)
        n = fields.Integer(validate=validate.Range(min=1, max=3))
        c = fields.String(validate=validate.OneOf(["a", "b"]))
        s = fields.String(validate=validate.Length(min=2, max=4))
    with pytest.raises(ValidationFailed) as exc:
        load(Required, {"n": 9, "c": "z", "s": "x", "unknown": 1})
    errors = exc.value.errors
    assert errors["x"] == ["缺少必填字段 / Missing data for required field."]
    assert errors["n"] == ["须大于或等于 1 且小于或等于 3 / Must be greater than or equal to 1 and less than or "
                           "equal to 3."]
    assert errors["c"] == ["须为以下之一：a, b / Must be one of: a, b."]
    assert errors["s"] == ["长度须在 2 到 4 之间 / Length must be between 2 and 4."]
    assert errors["unknown"] == ["未知字段 / Unknown field."]


def test_rpc_arguments_can_be_checked_the_same_way():
    fields.check_call_arguments("0b7c", {"payload": "checked by its schema"}, reveal=True)
    with pytest.raises(ValidationFailed) as exc:
        fields.check_call_arguments("ok", "a\u0000b", item_code="x\u001b")
    assert set(exc.value.errors) == {"arg1", "item_code"}
