"""Attachments reach their final name only after the commit that records them; a rollback or a
failed commit leaves no file behind; `gc` repairs what a crash can leave."""
from __future__ import annotations

import hashlib
import os
import time

import pytest
from sqlalchemy import func, select
from services.common.errors import Conflict

from services.registry import files
from services.registry.models import Category, StoredFile

from ..helpers import PDF, PNG, attachment

DAY = 24 * 3600


def _on_disk() -> list[str]:
    return sorted(p.name for p in files.files_dir().rglob("*") if p.is_file())


def _prepared(content=PDF):
    prepared = files.check(attachment(content))
    assert isinstance(prepared, files.PreparedFile)
    return prepared


def _rows(db) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(StoredFile))


def test_nothing_under_the_final_name_before_commit_and_the_file_after(db):
    prepared = _prepared()
    with db.transaction() as session:
        files.store(session, prepared)
        files.store(session, prepared)              # same content twice in one request: written once
        assert not files.path_for(prepared.sha256).exists()
        assert len(_on_disk()) == 1 and _on_disk()[0].endswith(".tmp")
    assert _on_disk() == [prepared.sha256]
    assert files.path_for(prepared.sha256).read_bytes() == PDF


def test_rollback_leaves_no_file(db):
    with pytest.raises(RuntimeError):
        with db.transaction() as session:
            files.store(session, _prepared())
            raise RuntimeError("a later check failed")
    assert _on_disk() == [] and _rows(db) == 0


def test_failed_commit_leaves_no_orphan(db):
    with pytest.raises(Conflict):  # the unit of work maps the unique violation to a 409
        with db.transaction() as session:
            files.store(session, _prepared(PNG))
            # flushed only by the commit, which the duplicate primary key makes fail
            session.add(Category(code="metrology", name_zh="重复", name_en="dup", sort=0))
    assert _on_disk() == [] and _rows(db) == 0


def _age(path, seconds):
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_gc_promotes_committed_temps_and_removes_old_orphans_only(db):
    kept = _prepared(PDF + b"kept")
    with db.transaction() as session:
        files.store(session, kept)
    _age(files.path_for(kept.sha256), 3 * DAY)               # old but referenced: stays

    # a crash between commit and rename: row committed, only the temp on disk
    crashed = _prepared(PDF + b"crashed")
    with db.transaction() as session:
        files.store(session, crashed)
        pending = list(session.info[files._PENDING_KEY])
        session.info[files._PENDING_KEY] = []               # as if the process died before after_commit
    [(crashed_tmp, crashed_final)] = pending
    assert crashed_tmp.exists() and not crashed_final.exists()

    def stray(content: bytes, name_suffix: str, age: float):
        sha = hashlib.sha256(content).hexdigest()
        path = files.path_for(sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        path = path.with_name(sha + name_suffix)
        path.write_bytes(content)
        _age(path, age)
        return path

    old_orphan = stray(PDF + b"old-orphan", "", 2 * DAY)     # written before a failed commit (older code)
    new_orphan = stray(PDF + b"new-orphan", "", 60)          # could be an open transaction's: too young
    old_temp = stray(PDF + b"old-temp", ".dead.tmp", 2 * DAY)
    new_temp = stray(PDF + b"new-temp", ".live.tmp", 60)

    with db.read() as session:
        result = files.gc(session)
    assert result == {"promoted": 1, "temp_removed": 1, "orphans_removed": 1}
    assert crashed_final.read_bytes() == PDF + b"crashed" and not crashed_tmp.exists()
    assert files.path_for(kept.sha256).exists() and new_orphan.exists() and new_temp.exists()
    assert not old_orphan.exists() and not old_temp.exists()
    with db.read() as session:
        assert files.gc(session) == {"promoted": 0, "temp_removed": 0, "orphans_removed": 0}


def test_an_orphan_with_the_same_content_is_written_again_not_trusted(db):
    """gc may delete an unreferenced file at any time, so store() never relies on one."""
    prepared = _prepared()
    target = files.path_for(prepared.sha256)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(PDF)
    with db.transaction() as session:
        files.store(session, prepared)
        target.unlink()                                     # gc removes the orphan meanwhile
    assert target.read_bytes() == PDF
