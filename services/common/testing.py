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


def sign_access_token(claims: dict, private_key_file: Path | None = None, ttl: int = 900, **overrides) -> str:
    """An access token as identity would sign it (EdDSA), for tests that call services directly.

    `claims` needs at least `sub`, `role` and `sid`; `iss`, `iat` and `exp` are
    filled in. Without `private_key_file`, the key of this process's QI_DATA_DIR.
    """
    import time

    import jwt
    from cryptography.hazmat.primitives import serialization

    from . import caller
    now = int(time.time())
    body = {"iss": caller.ISSUER, "iat": now, "exp": now + ttl, **claims, **overrides}
    if private_key_file is None:
        key = caller.signing_key()
    else:
        key = serialization.load_pem_private_key(Path(private_key_file).read_bytes(), password=None)
    return jwt.encode(body, key, algorithm=caller.ALGORITHM)
