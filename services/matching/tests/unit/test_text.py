import pytest

from services.matching import text


@pytest.mark.parametrize("typed", ["GB/T 2828.1-2012", "gb/t2828.1", "GBT 2828.1", "GB/T2828.1—2012",
                                   "ＧＢ／Ｔ　２８２８．１－２０１２", " gb / t 2828.1 - 2012 "])
def test_standard_number_variants_share_one_key(typed):
    assert text.standard_key(typed) == "GBT2828.1"


def test_mandatory_and_recommended_standards_stay_apart():
    assert text.standard_key("GB 4706.1-2005") == "GB4706.1"
    assert text.standard_key("GB/T 4706.1") != text.standard_key("GB 4706.1")
    assert text.standard_key("JJG 52-2013") == "JJG52"
    assert text.standard_key("DB3212/T 1033-2021") == "DB3212T1033"
    assert text.standard_key("压力表") is None


def test_query_terms_take_standards_out_of_the_words():
    assert text.query_terms("压力表 GB/T 2828.1-2012") == ["std:GBT2828.1", "压力表"]


def test_field_terms_carry_pinyin_and_initials():
    terms = text.field_terms("计量", "category")
    assert {"计量", "jiliang", "jl"} <= set(terms)
    assert terms["计量"] > terms["jiliang"] > terms["jl"]


def test_several_standards_in_one_capability():
    assert text.split_standards("GB/T 2828.1-2012；JJG 52-2013, GB 4706.1") == ["GBT2828.1", "JJG52", "GB4706.1"]
