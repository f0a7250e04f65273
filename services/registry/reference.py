"""Reference data of the registry: what a fresh deployment needs before anyone signs in.

Called by `services.common.migrate.upgrade("registry")` after the schema is up,
so a deployment without the demo seed still has the service catalogue of
clause 5 (8 categories and their items): applications are checked against it
and the public catalogue pages read it.

Guides are deliberately not loaded here. A guide states acceptance conditions,
fees, time limits and channels on the platform's behalf (R-4.1.1); those are the
deployment's own facts, written and published by an operator (versioned, with
the operator as author). A placeholder published by a migration would be text
no one approved shown to citizens as official; until an operator publishes one,
`GET /guides/<item>` truthfully answers `guide_not_found`. The demo seed
publishes sample guides for local runs.
"""
from __future__ import annotations

from services.common.db import Database

from . import catalogue


def load(db: Database) -> dict:
    """Idempotent: adds missing categories and items, never overwrites an operator's edit."""
    with db.transaction() as session:
        return {"catalogue_rows": catalogue.ensure_loaded(session)}
