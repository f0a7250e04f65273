"""docs/architecture.md names files and functions that exist (it is kept true to the code)."""
from __future__ import annotations

import re

from services.common import consumer, db, nameko_ext, outbox, pipeline, platform

DOC = (platform.REPO / "docs" / "architecture.md").read_text(encoding="utf-8")


def test_every_shared_file_it_names_exists():
    paths = set(re.findall(r"`((?:services/(?:common|gateway)|deploy|docs|web)/[\w./-]*)`", DOC))
    assert paths
    missing = [p for p in sorted(paths) if not (platform.REPO / p.rstrip("/")).exists()]
    assert not missing, missing


def test_the_functions_it_walks_through_exist():
    for owner, name in ((pipeline, "expose"), (pipeline, "run"), (outbox, "record_event"), (outbox, "OutboxRelay"),
                        (consumer, "run_idempotent"), (consumer, "claim_event"), (db.Database, "transaction"),
                        (db.Database, "read"), (nameko_ext, "idempotent_event_handler"),
                        (nameko_ext, "OutboxRelayProvider"), (platform, "OPERATORS")):
        assert hasattr(owner, name), name
