"""Group commit for the index consumer: the registry events that concurrent workers
of one process hold are applied in one transaction, and each worker returns (and
its message is acknowledged) only once that transaction has committed.

Why: catching up on a backlog, one transaction per event spent most of its time in
the commit (SQLite's WAL fsync, PostgreSQL's WAL flush), not in the index work
(measured: bench/search_bench.py, docs/performance.md). nameko already hands a
process up to `max_workers` delivered messages at once; the first worker to arrive
leads, lets the others join (a few cooperative yields), applies the batch in
arrival order and hands every worker its own outcome.

What stays as it was: each event is claimed (consumer.claim_event) in the same
transaction as its effect, so a redelivery is a duplicate; revisions still decide
per institution, so order across batches does not matter. A batch that fails is
retried one event per transaction, so the event at fault raises in its own worker
(parked or redelivered by `idempotent_event_handler`) and the others are applied.
A single event on an idle queue waits for nothing but those few yields.
"""
from __future__ import annotations

import logging
from typing import Callable

import eventlet
from eventlet.event import Event

log = logging.getLogger(__name__)


class GroupCommit:
    def __init__(self, db, apply: Callable, max_batch: int = 100, gather_rounds: int = 8):
        self.db, self.apply, self.max_batch, self.gather_rounds = db, apply, max_batch, gather_rounds
        self._pending: list[tuple[dict, Event]] = []
        self._leading = False

    def submit(self, envelope: dict):
        """Apply `envelope` (with whatever else is pending); its outcome, or its exception raised."""
        waiter = Event()
        self._pending.append((envelope, waiter))
        if not self._leading:
            self._leading = True
            try:
                while self._pending:
                    self._gather()
                    batch = self._pending[:self.max_batch]
                    del self._pending[:len(batch)]
                    self._run(batch)
            finally:
                self._leading = False
        return waiter.wait()

    def _gather(self) -> None:
        # Yield while others keep joining: the queue consumer dispatches the messages
        # it already holds, and their workers run up to `submit`.
        seen = -1
        for _ in range(self.gather_rounds):
            if len(self._pending) == seen or len(self._pending) >= self.max_batch:
                break
            seen = len(self._pending)
            eventlet.sleep(0)

    def _run(self, batch) -> None:
        try:
            with self.db.transaction() as session:
                outcomes = [self.apply(session, envelope) for envelope, _ in batch]
        except Exception as exc:
            if len(batch) == 1:
                batch[0][1].send_exception(exc)
                return
            log.warning("index batch of %d failed (%s); applying its events one by one", len(batch), exc)
            for envelope, waiter in batch:
                try:
                    with self.db.transaction() as session:
                        outcome = self.apply(session, envelope)
                except Exception as single:
                    waiter.send_exception(single)
                else:
                    waiter.send(outcome)
            return
        for (_, waiter), outcome in zip(batch, outcomes):
            waiter.send(outcome)
