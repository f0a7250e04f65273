"""Test support shared by every service's unit tests (not used by production code).

The schema of a unit-test database comes from the real Alembic migrations, so
tests exercise what production creates, not `create_all`; migrating is slow, so
it is done once per run into a template file that each test copies.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import text

from . import migrate
from .db import make_engine


def migrated_sqlite_template(service: str, directory: Path) -> Path:
    path = Path(directory) / f"{service}.db"
    migrate.upgrade(service, f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        # Fold the WAL into the main file so that a plain copy is complete.
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    return path


def copy_template(template: Path, directory: Path) -> Path:
    path = Path(directory) / template.name
    shutil.copy(template, path)
    return path
