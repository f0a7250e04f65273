"""Standard numbers ('GB/T 2828.1-2012'): how they are recognised and keyed.

Pure text rules (no segmentation library): the schemas validate with them and
the search index (matching.text) builds its `std:` terms from the same key.
"""
from __future__ import annotations

import re
import unicodedata

# A standard number: a code (GB, GB/T, JJG, HG/T, DB32/T ...) and a dotted number,
# optionally "-year". Spacing, case, slash and dash style vary in what people type.
STD_RE = re.compile(
    r"(?<![A-Za-z0-9])"
    r"(?P<code>[A-Za-z]{1,4}(?:\d{2,6}(?=\s*/))?)\s*(?P<slash>/?)\s*(?P<kind>[TZtz]?)\s*"
    r"(?P<number>\d+(?:\.\d+)*)"
    r"(?:\s*-\s*(?P<year>\d{2,4}))?"
    r"(?![A-Za-z0-9.])")


def normalise(text: str | None) -> str:
    """NFKC (full-width to half-width) and unified dashes, lower-cased."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"[\u2010-\u2015\u2212\uff0d]", "-", text)


def standard_key(number: str | None) -> str | None:
    """'GB/T 2828.1-2012', 'gb/t2828.1', 'GBT 2828.1' -> 'GBT2828.1' (None if not a standard number).

    The year is dropped: a query names the standard, the edition is a separate
    question (the standards table answers which edition is current). GB and GB/T
    stay different standards: the T is part of the key.
    """
    if not number:
        return None
    match = STD_RE.fullmatch(normalise(number).strip())
    if not match:
        return None
    return key_of(match)


def key_of(match: re.Match) -> str:
    code = match.group("code").upper()
    kind = match.group("kind").upper()
    # "GBT 2828.1" typed without the slash keeps its T inside `code`, so it
    # yields the same key as "GB/T 2828.1".
    return f"{code}{kind}{match.group('number')}"
