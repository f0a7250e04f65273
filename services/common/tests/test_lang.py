"""Accept-Language decides which half of a "中文 / English" field message a client reads."""
from __future__ import annotations

import pytest

from services.common import lang


@pytest.mark.parametrize("header, chosen", [
    (None, "zh-CN"), ("", "zh-CN"), ("zh-CN", "zh-CN"), ("en", "en"), ("en-US,en;q=0.9", "en"),
    ("fr, en;q=0.5, zh;q=0.8", "zh-CN"), ("de, en;q=0.3", "en"), ("en;q=0", "zh-CN"), ("ja", "zh-CN"),
])
def test_choose(header, chosen):
    assert lang.choose(header) == chosen


def test_localize_picks_the_half_in_either_order_and_leaves_other_text():
    errors = {"a": ["长度须在 1 到 3 之间 / Length must be between 1 and 3."],
              "b": {"0": {"c": ["required for outcome rejected / 必填"]}},
              "d": ["GB/T 2828.1 / 2012"], "e": ["plain"]}
    assert lang.localize(errors, "en") == {"a": ["Length must be between 1 and 3."],
                                           "b": {"0": {"c": ["required for outcome rejected"]}},
                                           "d": ["GB/T 2828.1 / 2012"], "e": ["plain"]}
    assert lang.localize(errors, "zh-CN")["a"] == ["长度须在 1 到 3 之间"]
    assert lang.localize(errors, "zh-CN")["b"]["0"]["c"] == ["必填"]
