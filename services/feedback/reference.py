"""Reference data loaded after every migration (services.common.migrate): the default supervision rules."""
from __future__ import annotations


def load(db) -> str:
    from .rules import ensure_defaults
    with db.transaction() as session:
        added = ensure_defaults(session)
    return f"{added} supervision rules added" if added else "supervision rules present"
