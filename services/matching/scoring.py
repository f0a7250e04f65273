"""Search score weights, shared by the indexer (which stores the static parts) and
the search (which adds them up in SQL).

`explain` shows each factor's contribution rounded to 6 places, i.e. an integer
number of micro-points (1e-6), and the score is their sum. The database computes
the same integers: the text part from the integer term points (see
postings.py's tokens), the qualification part from `qualified_until`, the rating and
on-time parts precomputed by `reputation_points` when they change. Integer sums
are exact and the same on SQLite and PostgreSQL, so ORDER BY in SQL, the keyset
cursor and the score returned to the user agree to the last digit.
"""
from __future__ import annotations

import math

WEIGHTS = {"text": 0.55, "qualification": 0.2, "rating": 0.15, "on_time": 0.1}
NEUTRAL = 0.5  # prior for an institution without ratings yet: neither rewarded nor punished
MICRO = 1_000_000


def micro(weight: float, value: float) -> int:
    """A contribution in micro-points, exactly as `explain` rounds it: round(weight * value, 6)."""
    return int(round(round(weight * value, 6) * MICRO))


def reputation_points(rating: float | None, on_time_rate: float | None) -> int:
    """Rating (0-5) and on-time (0-1) contributions in micro-points; neutral when absent."""
    return (micro(WEIGHTS["rating"], rating / 5.0 if rating is not None else NEUTRAL)
            + micro(WEIGHTS["on_time"], on_time_rate if on_time_rate is not None else NEUTRAL))


NEUTRAL_REPUTATION = reputation_points(None, None)  # 125000
QUALIFIED_MICRO = micro(WEIGHTS["qualification"], 1.0)  # 200000
TEXT_MICRO = micro(WEIGHTS["text"], 1.0)  # 550000: full text relevance


def text_fraction(max_term_points: int) -> tuple[int, int]:
    """Text contribution = TEXT_MICRO * points / (n_words * max_term_points) micro-points,
    capped at TEXT_MICRO: returned as the reduced (numerator per point, denominator per word)."""
    g = math.gcd(TEXT_MICRO, max_term_points)
    return TEXT_MICRO // g, max_term_points // g
