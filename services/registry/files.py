"""Attachments: checked, then stored content-addressed under <data_dir>/registry-files.

An attachment arrives as JSON `{"filename", "content_base64"}` (or `{"file_id"}`
naming a file this service already holds, e.g. on resubmission). The type is
decided by the bytes' magic number, never by the file name or a declared type,
so a renamed executable is refused. Files are addressed by their SHA-256: the
same licence uploaded twice is stored once, and a path can be derived from the
id without trusting any user-supplied name.

Checking and storing are separate steps: a request is checked whole
(`prepare`) before any byte is written (`store`), so a request refused for one
bad attachment leaves nothing behind.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from services.common import config
from services.common.db import utcnow

from .models import StoredFile

MAX_FILE_BYTES = 10 * 1024 * 1024
# Largest base64 text that can decode to MAX_FILE_BYTES (padding included).
MAX_BASE64_CHARS = 4 * ((MAX_FILE_BYTES + 2) // 3)

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


def store(session: Session, prepared: PreparedFile) -> dict:
    """Write the bytes (once per content) and record the metadata in the caller's transaction."""
    if prepared.content is not None:
        target = path_for(prepared.sha256)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename: a reader never sees half a file under its final name.
            tmp = target.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(prepared.content)
            os.replace(tmp, target)
    if session.get(StoredFile, prepared.sha256) is None:
        session.add(StoredFile(sha256=prepared.sha256, size=prepared.size, media_type=prepared.media_type,
                               created_at=utcnow()))
        session.flush()
    return prepared.ref()


def read(session: Session, sha256: str) -> tuple[StoredFile, bytes] | None:
    stored = session.get(StoredFile, sha256)
    if stored is None or not path_for(sha256).exists():
        return None
    return stored, path_for(sha256).read_bytes()
