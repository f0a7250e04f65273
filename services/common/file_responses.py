"""Operations that answer a file (an export), not JSON: `Operation.files` lists its media types.

The handler returns {"filename", "content_type", "content": bytes}; the pipeline turns it into
what an RPC can carry (the bytes base64), the gateway decodes it and answers the bytes with
that Content-Type and a Content-Disposition naming the file (RFC 6266, the UTF-8 name too).
A content type the operation does not declare is a programming error, refused here.
"""
from __future__ import annotations

import base64
import re
from urllib.parse import quote

_UNSAFE = re.compile(r'[^A-Za-z0-9._-]')


def to_wire(result: dict, allowed: tuple[str, ...]) -> dict:
    if result.get("content_type") not in allowed:
        raise ValueError(f"file of type {result.get('content_type')!r}: the operation declares {allowed}")
    content = result["content"]
    if isinstance(content, str):
        content = content.encode("utf-8")
    return {"filename": str(result["filename"]), "content_type": result["content_type"],
            "content_base64": base64.b64encode(content).decode("ascii")}


def from_wire(payload: dict) -> tuple[bytes, str, str]:
    """(the bytes, the Content-Type header, the Content-Disposition header)."""
    content = base64.b64decode(payload["content_base64"])
    media_type = payload["content_type"]
    if media_type.startswith("text/"):
        media_type += "; charset=utf-8"
    name = payload["filename"]
    ascii_name = _UNSAFE.sub("_", name) or "download"
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
    return content, media_type, disposition
