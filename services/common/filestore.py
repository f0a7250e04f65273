"""The content-addressed file stores' shared repair sweep (registry attachments, identity licences).

Files live at `<root>/<sha256[:2]>/<sha256>`, written as `<sha256>.<random>.tmp` and renamed into
place after the row recording them commits. A crash between commit and rename leaves a temp whose
row exists; a failed commit leaves a temp or file no row records.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

TEMP_SUFFIX = ".tmp"


def repair(root: Path, recorded: set[str], cutoff: float) -> dict:
    """Promote a recorded temp whose rename a crash prevented; delete temps and unrecorded files
    last modified before `cutoff` (younger ones may belong to an open transaction).

    `recorded` must be read before this scan: a row committed later belongs to a younger file.
    """
    result = {"promoted": 0, "temp_removed": 0, "orphans_removed": 0}
    for path in sorted(root.glob("*/*")):
        if not path.is_file():
            continue
        if path.name.endswith(TEMP_SUFFIX):
            sha256 = path.name.split(".", 1)[0]
            final = root / sha256[:2] / sha256
            if sha256 in recorded and not final.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256:
                os.replace(path, final)
                result["promoted"] += 1
            elif path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                result["temp_removed"] += 1
        elif path.name not in recorded and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            result["orphans_removed"] += 1
    return result
