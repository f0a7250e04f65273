"""Business-licence files: checked by their bytes, stored content-addressed under <data_dir>/identity-files.

The same rules as the registry's attachments (services/registry/files.py, whose
code a service may not share because it maps the registry's tables): a file
arrives as JSON {"filename", "content_base64"}; its type is decided by the
magic number (PDF, JPEG, PNG), never by the name; at most MAX_FILE_BYTES; it is
addressed by its SHA-256. The bytes are written to a temporary name and moved
into place only after the transaction recording them commits; a rollback
deletes the temporary file. What a crash leaves behind (a commit whose rename
never ran, a temporary file of a process that died, an unrecorded file) is put
right by `gc`, which the identity service runs every hour.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import datetime as dt
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from services.common import config, filestore
from services.common.db import utcnow

from .models import IdentityFile

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_BASE64_CHARS = 4 * ((MAX_FILE_BYTES + 2) // 3)
MAGIC = ((b"%PDF-", "application/pdf"), (b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))
ALLOWED_TYPES_TEXT = "PDF, JPEG or PNG"
_PENDING_KEY = "identity_files_pending"


@dataclass
class PreparedFile:
    sha256: str
    size: int
    media_type: str
    filename: str
    content: bytes


def files_dir() -> Path:
    path = config.data_dir() / "identity-files"
    path.mkdir(parents=True, exist_ok=True)
    return path


def path_for(sha256: str) -> Path:
    return files_dir() / sha256[:2] / sha256


def check(attachment) -> PreparedFile | str:
    """A PreparedFile, or the bilingual reason it is refused."""
    if not isinstance(attachment, dict):
        return "须为附件对象 / must be an object with filename and content_base64"
    filename = str(attachment.get("filename") or "licence")[:200]
    text = attachment.get("content_base64")
    if not isinstance(text, str) or not text:
        return "缺少文件内容 / content_base64 is required"
    if len(text) > MAX_BASE64_CHARS + 4:
        return f"文件超过 {MAX_FILE_BYTES // (1024 * 1024)} MiB / file larger than {MAX_FILE_BYTES} bytes"
    try:
        content = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return "不是有效的 base64 / content_base64 is not valid base64"
    if not content:
        return "文件为空 / file is empty"
    if len(content) > MAX_FILE_BYTES:
        return f"文件超过 {MAX_FILE_BYTES // (1024 * 1024)} MiB / file larger than {MAX_FILE_BYTES} bytes"
    media_type = next((t for magic, t in MAGIC if content.startswith(magic)), None)
    if media_type is None:
        return f"文件类型不允许，仅限 {ALLOWED_TYPES_TEXT} / file type not allowed, only {ALLOWED_TYPES_TEXT}"
    return PreparedFile(hashlib.sha256(content).hexdigest(), len(content), media_type, filename, content)


def store(session: Session, prepared: PreparedFile) -> IdentityFile:
    target = path_for(prepared.sha256)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{prepared.sha256}.{uuid.uuid4().hex}{filestore.TEMP_SUFFIX}")
        tmp.write_bytes(prepared.content)
        session.info.setdefault(_PENDING_KEY, []).append((tmp, target))
    stored = session.get(IdentityFile, prepared.sha256)
    if stored is None:
        stored = IdentityFile(sha256=prepared.sha256, size=prepared.size, media_type=prepared.media_type,
                              created_at=utcnow())
        session.add(stored)
        session.flush()
    return stored


def read(sha256: str) -> bytes | None:
    path = path_for(sha256)
    return path.read_bytes() if path.exists() else None


@event.listens_for(Session, "after_commit")
def _place_after_commit(session: Session) -> None:
    for tmp, target in session.info.pop(_PENDING_KEY, ()):
        try:
            os.replace(tmp, target)   # atomic: never half a file under its final name
        except OSError:
            log.exception("could not move %s into place", tmp)


@event.listens_for(Session, "after_transaction_end")
def _drop_after_rollback(session: Session, transaction) -> None:
    if transaction.parent is None:
        for tmp, _target in session.info.pop(_PENDING_KEY, ()):
            tmp.unlink(missing_ok=True)


GC_MIN_AGE = dt.timedelta(days=1)


def gc(session: Session, now: float | None = None, min_age: dt.timedelta = GC_MIN_AGE) -> dict:
    """Promote a committed temp whose rename a crash prevented; delete old temps and unrecorded files.

    Files younger than `min_age` are left alone: they may belong to an open transaction.
    """
    cutoff = (now if now is not None else time.time()) - min_age.total_seconds()
    recorded = set(session.scalars(select(IdentityFile.sha256)))   # read before scanning
    return filestore.repair(files_dir(), recorded, cutoff)
