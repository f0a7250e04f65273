"""What a response schema dumps when a row alone is not the whole answer.

A domain function returns its ORM row; where the answer holds more than the row's
columns (a demand's timeline and clocks, a visit's demand ids, the share of a
package an enterprise may see), it returns `Shown(row, extra=...)`: the response
schema reads the extras first, then the row's own attributes. An extra left out
stays out of the response (a list item carries no timeline).
"""
from __future__ import annotations


class Shown:
    def __init__(self, row, **extra):
        self._row = row
        vars(self).update(extra)

    def __getattr__(self, name):
        return getattr(self._row, name)

    @property
    def row(self):
        return self._row
