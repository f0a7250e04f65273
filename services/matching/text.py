"""Text analysis for the search index: the same functions build index terms and
query terms, so whatever the index stores a query can reach.

Terms are plain strings with a prefix telling what kind they are:
  "计量"           a Chinese word (jieba, search mode: sub-words too)
  "jiliang", "jl"  full pinyin and initials of each Chinese word
  "std:GBT2828.1"  a standard number, normalised (see `standard_key`)
  "cat:metrology", "item:<code>", "region:<district>", "park:<name>"
                   exact facets, used as indexed filters (no text weight)
"""
from __future__ import annotations

import functools
import logging
import re

import jieba
from pypinyin import Style, lazy_pinyin

from services.common import vocabulary

from .contract.standard_numbers import STD_RE, key_of, normalise, standard_key  # noqa: F401 (re-exported)

jieba.setLogLevel(logging.WARNING)

CATEGORIES, CATEGORY_ZH = vocabulary.CATEGORIES, vocabulary.CATEGORY_ZH
KINDS, KIND_ZH = vocabulary.INSTITUTION_KINDS, vocabulary.INSTITUTION_KIND_ZH
# Standard numbers: the contract's text rules (the schemas validate with the same key).
_STD_RE, _key = STD_RE, key_of

_ASCII_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)*")
_HAS_HAN = re.compile(r"[\u4e00-\u9fff]")
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def extract_standards(text: str | None) -> tuple[list[str], str]:
    """Standard keys found in free text, and the text with them removed."""
    text = normalise(text)
    keys: list[str] = []

    def take(match):
        code = match.group("code")
        # Bare digits or a lone letter followed by a number ("A 3") are not standards;
        # a standard code has at least two letters.
        if len(re.sub(r"\d", "", code)) < 2:
            return match.group(0)
        key = _key(match)
        if key and key not in keys:
            keys.append(key)
        return " "
    rest = _STD_RE.sub(take, text)
    return keys, rest


def split_standards(field: str | None) -> list[str]:
    """A capability's method_standard may list several ('GB/T 1;GB/T 2'): their keys."""
    return list(_split_standards(field or ""))


# Memoised like the analysis below: the same method standards recur across
# thousands of capabilities, and indexing and hit highlighting both split them.
@functools.lru_cache(maxsize=50_000)
def _split_standards(field: str) -> tuple[str, ...]:
    keys = []
    for part in re.split(r"[;；,，、]+", normalise(field)):
        found, _ = extract_standards(part)
        for key in found:
            if key not in keys:
                keys.append(key)
    return tuple(keys)


# Field values repeat across institutions (products, parameters, categories), and
# pypinyin/jieba cost far more than a lookup: analysis results are memoised.
@functools.lru_cache(maxsize=200_000)
def pinyin_terms(word: str) -> tuple[str, ...]:
    """Full pinyin and initials of a Chinese word ('计量' -> ['jiliang', 'jl'])."""
    if not _HAS_HAN.search(word):
        return []
    full = "".join(lazy_pinyin(word)).lower()
    initials = "".join(lazy_pinyin(word, style=Style.FIRST_LETTER)).lower()
    full = re.sub(r"[^a-z0-9]", "", full)
    initials = re.sub(r"[^a-z0-9]", "", initials)
    return tuple(t for t in dict.fromkeys((full, initials)) if t)


def words(text: str | None, for_search: bool = True) -> list[str]:
    """Words of a text: Chinese segmented by jieba, ASCII words lower-cased; no punctuation."""
    text = normalise(text).lower()
    out: list[str] = []
    cut = jieba.cut_for_search(text) if for_search else jieba.cut(text)
    for token in cut:
        token = token.strip()
        if not token or _PUNCT.fullmatch(token):
            continue
        if _HAS_HAN.search(token):
            out.append(token)
        else:
            out.extend(_ASCII_WORD.findall(token))
    return list(dict.fromkeys(out))


# Index-side weights: how strongly a term found in a field speaks for the document.
FIELD_WEIGHTS = {"name": 3.0, "standard": 4.0, "item": 2.5, "product": 2.5, "category": 2.0, "kind": 2.0,
                 "parameter": 1.5, "qualification": 1.5, "region": 1.0, "address": 0.5}
PINYIN_FACTOR = 0.8
INITIALS_FACTOR = 0.6


def field_terms(text: str | None, field: str) -> dict[str, float]:
    """Weighted terms of one field: words, their pinyin and initials, standard numbers."""
    return dict(_field_terms(text or "", field))


def field_term_items(text: str | None, field: str) -> tuple[tuple[str, float], ...]:
    """`field_terms` as the memoised (term, weight) pairs themselves, for hot loops
    (indexing) that only iterate: no dict is built per call. Do not mutate."""
    return _field_terms(text or "", field)


@functools.lru_cache(maxsize=200_000)
def _field_terms(text: str, field: str) -> tuple[tuple[str, float], ...]:
    weight = FIELD_WEIGHTS[field]
    terms: dict[str, float] = {}

    def put(term, w):
        if term and w > terms.get(term, 0.0):
            terms[term] = w
    keys, rest = extract_standards(text)
    for key in keys:
        put("std:" + key, FIELD_WEIGHTS["standard"])
    for word in words(rest):
        put(word, weight)
        py = pinyin_terms(word)
        if py:
            put(py[0], weight * PINYIN_FACTOR)
            if len(py) > 1:
                put(py[1], weight * INITIALS_FACTOR)
    return tuple(terms.items())


def query_terms(q: str | None) -> list[str]:
    """Terms a query must match: standard keys first, then words (jieba precise mode).

    An all-ASCII chunk like 'jiliang' or 'jl' is kept whole: it is looked up
    as pinyin or initials, which the index stores per Chinese word.
    """
    return list(_query_terms(q or ""))


# Memoised: popular queries repeat, and segmenting one costs more than the index lookup.
@functools.lru_cache(maxsize=20_000)
def _query_terms(q: str) -> tuple[str, ...]:
    keys, rest = extract_standards(q)
    terms = ["std:" + k for k in keys]
    for word in words(rest, for_search=False):
        if word not in terms:
            terms.append(word)
    return tuple(terms)
