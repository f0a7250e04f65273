"""Matching demo data: the standards sample. Institutions arrive from registry
events (the registry's demo publishes them), never written here directly."""
from __future__ import annotations

from . import standards


def seed(db) -> str:
    with db.transaction() as session:
        added = standards.ensure_loaded(session)
    return f"{added} standards loaded" if added else "standards already loaded"
