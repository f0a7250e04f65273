"""Attachments: checked, then stored content-addressed under <data_dir>/registry-files.

An attachment arrives as JSON `{"filename", "content_base64"}` (or `{"file_id"}`
naming a file this service already holds, e.g. on resubmission). The type is
decided by the bytes' magic number, never by the file name or a declared type,
so a renamed executable is refused. Files are addressed by their SHA-256: the
same licence uploaded twice is stored once, and a path can be derived from the
id without trusting any user-supplied name.

Checking and storing are separate steps: a request is checked whole
(`check`) before any byte is written (`store`), so a request refused for one
bad attachment leaves nothing behind.

A file appears under its final name only once the transaction that records it
has committed: `store` writes a temporary `<sha256>.<random>.tmp` beside it,
and the session's `after_commit` renames it into place; a rollback (a later
validation error, a failed commit) deletes it. So neither a refused request nor
a failed commit leaves an unreferenced file. What a crash can leave behind
(a commit whose rename never ran, a temp of a process that died) is put right
by `gc`, which the service runs every hour:

    python -m services.registry.files gc        # also by hand
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from services.common import config, filestore
from services.common.db import utcnow

from .contract.vocabulary import MAX_BASE64_CHARS, MAX_FILE_BYTES  # noqa: F401 (re-exported)
from .models import StoredFile

log = logging.getLogger(__name__)


MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
ALLOWED_TYPES_TEXT = "PDF, JPEG or PNG"


@dataclass
class PreparedFile:
    sha256: str
    size: int
    media_type: str
    filename: str
    content: bytes | None        # None when the file is already stored

    def ref(self) -> dict:
        return {"file_id": self.sha256, "filename": self.filename, "media_type": self.media_type,
                "size": self.size}


def files_dir() -> Path:
    path = config.data_dir() / "registry-files"
    path.mkdir(parents=True, exist_ok=True)
    return path


def path_for(sha256: str) -> Path:
    # Two-level fan-out keeps directories small; the id is hex, so no traversal.
    return files_dir() / sha256[:2] / sha256


def sniff(content: bytes) -> str | None:
    for magic, media_type in MAGIC:
        if content.startswith(magic):
            return media_type
    return None


def check(attachment, session: Session | None = None) -> PreparedFile | str:
    """A PreparedFile, or the reason (a message naming the problem) it is refused."""
    if not isinstance(attachment, dict):
        return "须为附件对象 / must be an object with filename and content_base64"
    filename = str(attachment.get("filename") or "attachment")[:200]
    file_id = attachment.get("file_id")
    if file_id and not attachment.get("content_base64"):
        stored = session.get(StoredFile, str(file_id)) if session is not None else None
        if stored is None or not path_for(stored.sha256).exists():
            return "引用的文件不存在 / unknown file_id"
        return PreparedFile(stored.sha256, stored.size, stored.media_type, filename, None)
    text = attachment.get("content_base64")
    if not isinstance(text, str) or not text:
        return "缺少文件内容 / content_base64 is required"
    if len(text) > MAX_BASE64_CHARS + 4:
        return f"文件超过 {MAX_FILE_BYTES // (1024 * 1024)} MiB / file larger than {MAX_FILE_BYTES} bytes"
    try:
        content = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return "不是有效的 base64 / content_base64 is not valid base64"
    if len(content) > MAX_FILE_BYTES:
        return f"文件超过 {MAX_FILE_BYTES // (1024 * 1024)} MiB / file larger than {MAX_FILE_BYTES} bytes"
    if not content:
        return "文件为空 / file is empty"
    media_type = sniff(content)
    if media_type is None:
        return f"文件类型不允许，仅限 {ALLOWED_TYPES_TEXT} / file type not allowed, only {ALLOWED_TYPES_TEXT}"
    return PreparedFile(hashlib.sha256(content).hexdigest(), len(content), media_type, filename, content)


_PENDING_KEY = "registry_files_pending"
TEMP_SUFFIX = filestore.TEMP_SUFFIX
GC_MIN_AGE = dt.timedelta(days=1)


def store(session: Session, prepared: PreparedFile) -> dict:
    """Record the metadata in the caller's transaction; the bytes take their final name after commit."""
    if prepared.content is not None:
        target = path_for(prepared.sha256)
        pending = session.info.setdefault(_PENDING_KEY, [])
        known = session.get(StoredFile, prepared.sha256) is not None
        # Writing is skipped only for a file that is both recorded and in place. A file
        # in place but not recorded is an orphan that `gc` may delete at any moment, so
        # it is written again rather than relied on.
        if not (known and target.exists()) and not any(t == target for _, t in pending):
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f"{prepared.sha256}.{uuid.uuid4().hex}{TEMP_SUFFIX}")
            tmp.write_bytes(prepared.content)
            pending.append((tmp, target))
    if session.get(StoredFile, prepared.sha256) is None:
        session.add(StoredFile(sha256=prepared.sha256, size=prepared.size, media_type=prepared.media_type,
                               created_at=utcnow()))
        session.flush()
    return prepared.ref()


@event.listens_for(Session, "after_commit")
def _place_after_commit(session: Session) -> None:
    for tmp, target in session.info.pop(_PENDING_KEY, ()):
        try:
            # Atomic: a reader never sees half a file under its final name.
            os.replace(tmp, target)
        except OSError:
            # The row is committed; the temp stays for `gc` to move into place.
            log.exception("could not move %s into place; gc will retry", tmp)


@event.listens_for(Session, "after_transaction_end")
def _drop_after_rollback(session: Session, transaction) -> None:
    # Reached after a commit too, but then the list was already emptied.
    if transaction.parent is None:
        for tmp, _target in session.info.pop(_PENDING_KEY, ()):
            tmp.unlink(missing_ok=True)


def gc(session: Session, now: float | None = None, min_age: dt.timedelta = GC_MIN_AGE) -> dict:
    """Repair what a crash left in the file store.

    - a temp whose file is recorded but missing (committed, renamed never): moved into place;
    - a temp older than `min_age` otherwise: deleted (younger ones may belong to an open transaction);
    - a file no row references, older than `min_age`: deleted (written before a failed commit by
      an older version of `store`, or its row was never committed).
    """
    cutoff = (now if now is not None else time.time()) - min_age.total_seconds()
    # Read before scanning: a row committed after this read belongs to a file younger than min_age.
    recorded = set(session.scalars(select(StoredFile.sha256)))
    return filestore.repair(files_dir(), recorded, cutoff)


def read(session: Session, sha256: str) -> tuple[StoredFile, bytes] | None:
    stored = session.get(StoredFile, sha256)
    if stored is None or not path_for(sha256).exists():
        return None
    return stored, path_for(sha256).read_bytes()


def main(argv=None) -> None:
    import argparse

    from services.common.db import Database, engine_for

    parser = argparse.ArgumentParser(description="Registry file store maintenance")
    parser.add_argument("command", choices=["gc"])
    parser.parse_args(argv)
    db = Database(engine_for("registry"))
    with db.read() as session:
        print(gc(session))
    db.engine.dispose()


if __name__ == "__main__":
    main()
