"""Identity's answer to "has this session ended?" for every verified call, from memory.

Every call to identity carries a token whose session it must check, and it asked
its database each time (`tokens.session_revoked`: a session, a query, a rollback
— a fifth of identity's CPU per request). The same answer is kept in memory:

- **revoked**: a `RevocationList` (sid -> moment its last access token expires),
  loaded from identity's own table (`tokens.revoked_sessions`) at first use and
  again every QI_REVOCATION_RELOAD_SECONDS; fed at once by this process's own
  revocations (`tokens.revoke` notes them in the transaction; applied when it commits) and by the
  `user.session_revoked` broadcast of every identity process (service.py);
- **live**: sids this process found in its table, not revoked (bounded, the
  least recently asked go first). A sid that is neither is looked up in the
  table — so a token naming a session identity never opened is still refused.

How soon another identity process sees a revocation: its broadcast event is
published by the outbox relay right after the commit (the worker wakes it), so
normally within the broker's delivery time; if that event is lost (a connection
down at the time), at the next reload, QI_REVOCATION_RELOAD_SECONDS (60 s) at
most — the same bound every gateway and service already has. In the process
that revoked, it holds from the commit on.
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

from sqlalchemy import event

from services.common import caller

from . import tokens

PENDING_KEY = tokens.PENDING_REVOCATIONS   # Session.info: revoked in this transaction, not yet committed
LIVE_SIZE = 100_000


class SessionRevocations:
    def __init__(self, db, reload_seconds: float | None = None, live_size: int = LIVE_SIZE):
        self.db = db
        self.revoked = caller.RevocationList(reload_seconds=reload_seconds)
        self.live: OrderedDict[str, None] = OrderedDict()
        self.live_size = live_size
        self._lock = threading.Lock()
        # This process's revocations count from their commit, never before (a rolled-back
        # logout revoked nothing).
        event.listen(db.Session, "after_commit", self._committed)
        event.listen(db.Session, "after_transaction_end", self._ended)

    # -- fed by ------------------------------------------------------------------------------
    def _committed(self, session) -> None:
        for sid, expires_at_epoch in session.info.pop(PENDING_KEY, ()):
            self.revoked.add(sid, expires_at_epoch)

    @staticmethod
    def _ended(session, transaction) -> None:
        if transaction.parent is None:   # rolled back (a commit already took them)
            session.info.pop(PENDING_KEY, None)

    def add_event(self, envelope: dict) -> None:
        """A `user.session_revoked` event from any identity process."""
        self.revoked.add_event(envelope)

    def reload(self) -> None:
        with self.db.read() as session:
            self.revoked.load(tokens.revoked_sessions(session))

    # -- asked ---------------------------------------------------------------------------------
    def is_revoked(self, sid) -> bool:
        if not sid:
            return True
        if self.revoked.needs_load():
            self.reload()
        if self.revoked.is_revoked(sid):
            return True
        with self._lock:
            if sid in self.live:
                self.live.move_to_end(sid)
                return False
        with self.db.read() as session:
            ended = tokens.session_revoked(session, sid)
        if not ended:
            with self._lock:
                self.live[sid] = None
                while len(self.live) > self.live_size:
                    self.live.popitem(last=False)
        return ended


_by_database: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_by_database_lock = threading.Lock()


def for_database(db) -> SessionRevocations:
    """The one `SessionRevocations` of a service's `Database` (one per identity process)."""
    with _by_database_lock:
        found = _by_database.get(db)
        if found is None:
            found = _by_database[db] = SessionRevocations(db)
        return found
