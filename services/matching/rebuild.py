"""Rebuild the whole search index from the registry:

    python -m services.matching.index rebuild [--page 500]

Source: the registry's `institution_profiles` RPC (services/registry/profiles_feed.py),
paged by institution id: every institution's current public profile and revision,
deregistered ones included. Not the event archive (services/common/archive.py): the
archive keeps events for QI_EVENT_ARCHIVE_MAX_AGE only (30 days by default), so an
institution approved before that and unchanged since would be missing, and
replaying all of an institution's events costs more than reading its last state.
Matching never reads the registry's tables either way.

In place, while search keeps answering: each page is one transaction; a profile is
re-indexed even at the revision the index already has (the point of a rebuild is
new analysis, e.g. after text.py changed), an older revision than the index holds
(an event that overtook the rebuild) changes nothing. Institutions the index holds
that the registry no longer lists leave search. The consumer may run meanwhile:
revisions decide, as for events.
"""
from __future__ import annotations

import argparse
import logging
import time
from typing import Callable

from sqlalchemy import select, text as sql_text

from . import index, postings
from .models import IndexedInstitution

log = logging.getLogger(__name__)

Pages = Callable[[str | None, int], dict]  # (after, limit) -> {"items": [...], "next_after": ...}


def apply_profile(session, item: dict) -> str:
    """One registry profile (profile event data) into the index: applied | stale."""
    institution_id, revision = str(item["institution_id"]), int(item["revision"])
    current = index.current_state(session, institution_id)
    if current is not None and revision < current.revision:
        return "stale"
    snapshot = item["snapshot"]
    if snapshot.get("status", "active") == "active":
        index._index_profile(session, current, institution_id, revision, snapshot)
    else:
        index._deregister(session, current, institution_id, revision, {})
    return "applied"


def rebuild(db, pages: Pages, page_size: int = 500) -> dict:
    """Page through `pages` into the index; returns counts."""
    counts = {"applied": 0, "stale": 0, "removed": 0, "pages": 0}
    listed: set[str] = set()
    after = None
    while True:
        page = pages(after, page_size)
        with db.transaction() as session:
            for item in page["items"]:
                counts[apply_profile(session, item)] += 1
                listed.add(str(item["institution_id"]))
        counts["pages"] += 1
        after = page.get("next_after")
        if not after:
            break
    with db.transaction() as session:
        active = session.scalars(select(IndexedInstitution.id).where(IndexedInstitution.status == "active")).all()
        for institution_id in active:
            if institution_id not in listed:
                current = index.current_state(session, institution_id)
                index._deregister(session, current, institution_id, current.revision, {})
                counts["removed"] += 1
        if postings.is_sqlite(session):
            # Merge FTS5's many small segments (one per transaction) into one.
            session.execute(sql_text("INSERT INTO idx_fts (idx_fts) VALUES ('optimize')"))
    return counts


def registry_pages(amqp_uri: str, timeout: float = 60) -> tuple[Pages, Callable[[], None]]:
    """Pages from the running registry service over RPC, and a function closing the proxy."""
    from nameko.standalone.rpc import ClusterRpcProxy
    proxy = ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=timeout)
    cluster = proxy.start()
    return (lambda after, limit: cluster.registry.institution_profiles(after=after, limit=limit)), proxy.stop


def main(argv: list[str] | None = None) -> None:
    from services.common import config
    from services.common.db import Database, engine_for

    parser = argparse.ArgumentParser(prog="python -m services.matching.index rebuild")
    parser.add_argument("--page", type=int, default=500, help="institutions per RPC page and transaction")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    db = Database(engine_for("matching"))
    pages, close = registry_pages(config.amqp_uri())
    started = time.perf_counter()
    try:
        counts = rebuild(db, pages, args.page)
    finally:
        close()
        db.engine.dispose()
    print(f"index rebuilt from the registry in {time.perf_counter() - started:.1f}s: {counts}")
