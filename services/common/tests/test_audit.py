import importlib.util
import uuid
from pathlib import Path

import json

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.exc import DBAPIError, OperationalError

from services.common.audit import (
    SQLITE_APPEND_ONLY_DDL, AuditAppendOnlyError, AuditEntry, audit, list_audit,
)
from services.common.db import Database, make_engine

MIGRATION = Path(__file__).resolve().parents[1] / "migrations" / "versions" / "common_0003_audit.py"
PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"

ALICE = {"user_id": "u-alice", "role": "operator", "sid": "s1", "ip": "10.0.0.7"}
BOB = {"user_id": "u-bob", "role": "enterprise", "sid": "s2", "ip": "10.0.0.8"}


def load_migration():
    spec = importlib.util.spec_from_file_location("common_0003_audit", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_migration(connection, direction: str):
    # Runs the migration's own upgrade()/downgrade() without the full Alembic chain.
    with Operations.context(MigrationContext.configure(connection)):
        getattr(load_migration(), direction)()


@pytest.fixture
def db(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    AuditEntry.__table__.create(engine)
    with engine.begin() as conn:
        for statement in SQLITE_APPEND_ONLY_DDL:
            conn.exec_driver_sql(statement)
    yield Database(engine)
    engine.dispose()


def write_sample(db):
    with db.transaction() as session:
        audit(session, ALICE, "user.pii_revealed", "user", "u-bob", owner_id="u-bob",
              detail={"fields": ["phone"]}, request_id="req-1")
        audit(session, BOB, "user.profile_updated", "user", "u-bob", owner_id="u-bob")
        audit(session, None, "user.role_changed", "user", "u-carol", detail={"from": "enterprise", "to": "operator"})


def test_entries_written_and_listed_newest_first(db):
    write_sample(db)
    with db.read() as session:
        entries = list_audit(session)
        assert [e["action"] for e in entries] == ["user.role_changed", "user.profile_updated", "user.pii_revealed"]
        revealed = entries[-1]
        assert revealed["actor_id"] == "u-alice" and revealed["actor_role"] == "operator"
        assert revealed["ip"] == "10.0.0.7" and revealed["request_id"] == "req-1"
        assert revealed["target_owner_id"] == "u-bob"
        assert revealed["detail"] == {"fields": ["phone"]}
        assert revealed["at"].endswith("Z")
        system = entries[0]
        assert system["actor_id"] == "system" and system["actor_role"] == "system" and system["ip"] is None

        assert [e["action"] for e in list_audit(session, actor_id="u-alice")] == ["user.pii_revealed"]
        assert len(list_audit(session, target_type="user", target_id="u-bob")) == 2
        assert len(list_audit(session, action="user.role_changed")) == 1
        page = list_audit(session, limit=2)
        assert len(page) == 2
        rest = list_audit(session, before_id=page[-1]["id"])
        assert [e["action"] for e in rest] == ["user.pii_revealed"]


def test_entry_rolls_back_with_the_action(db):
    with pytest.raises(RuntimeError):
        with db.transaction() as session:
            audit(session, ALICE, "user.pii_revealed", "user", "u-bob")
            raise RuntimeError("action failed")
    with db.read() as session:
        assert list_audit(session) == []


def test_detail_with_plaintext_pii_is_masked_not_refused(db):
    """Operators' free text (a contact line, review reasons) must not make the action fail."""
    with db.transaction() as session:
        audit(session, ALICE, "window.updated", "window", "w-1", detail={"contact": "服务热线 13812345678"})
        audit(session, ALICE, "application.returned", "application", "a-1",
              detail={"reasons": ["身份证 11010519491231002X 不清晰"]})
    with db.read() as session:
        details = [e["detail"] for e in list_audit(session)]
    raw = json.dumps(details, ensure_ascii=False)
    assert "13812345678" not in raw and "11010519491231002X" not in raw
    assert "138****5678" in raw and "1101**********002X" in raw


def test_orm_update_refused(db):
    write_sample(db)
    with pytest.raises(AuditAppendOnlyError):
        with db.transaction() as session:
            entry = session.scalars(sa.select(AuditEntry).limit(1)).one()
            entry.action = "user.nothing_happened"
            session.flush()


def test_orm_delete_refused(db):
    write_sample(db)
    with pytest.raises(AuditAppendOnlyError):
        with db.transaction() as session:
            session.delete(session.scalars(sa.select(AuditEntry).limit(1)).one())
            session.flush()


@pytest.mark.parametrize("statement", [
    sa.update(AuditEntry).values(actor_id="someone"),
    sa.delete(AuditEntry).where(AuditEntry.actor_id == "u-alice"),
    sa.update(AuditEntry.__table__).values(actor_id="someone"),
    sa.delete(AuditEntry.__table__),
], ids=["orm-update", "orm-delete", "core-update", "core-delete"])
def test_bulk_change_through_session_refused(db, statement):
    write_sample(db)
    with pytest.raises(AuditAppendOnlyError):
        with db.transaction() as session:
            session.execute(statement)
    with db.read() as session:
        assert len(list_audit(session)) == 3


def test_sqlite_trigger_refuses_raw_sql(db):
    write_sample(db)
    for statement in ("UPDATE audit_entry SET actor_id = 'x'", "DELETE FROM audit_entry"):
        with pytest.raises(DBAPIError, match="append-only"):
            with db.engine.begin() as conn:
                conn.exec_driver_sql(statement)
    with db.read() as session:
        assert len(list_audit(session)) == 3


def test_migration_on_sqlite(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    with engine.begin() as conn:
        run_migration(conn, "upgrade")
    inspector = sa.inspect(engine)
    assert {ix["name"] for ix in inspector.get_indexes("audit_entry")} == {"ix_audit_entry_actor",
                                                                         "ix_audit_entry_target"}
    db = Database(engine)
    write_sample(db)
    with pytest.raises(DBAPIError, match="append-only"):
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM audit_entry")
    with engine.begin() as conn:
        run_migration(conn, "downgrade")
    assert not sa.inspect(engine).has_table("audit_entry")
    engine.dispose()


@pytest.fixture
def pg_engine():
    probe = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with probe.connect():
            pass
    except OperationalError as exc:
        probe.dispose()
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 (db 'test') unreachable: {exc.orig}")
    schema = f"audit_test_{uuid.uuid4().hex[:12]}"
    with probe.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine = sa.create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with probe.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        probe.dispose()


def test_postgres_trigger_refuses_update_delete_truncate(pg_engine):
    with pg_engine.begin() as conn:
        run_migration(conn, "upgrade")
    db = Database(pg_engine)
    write_sample(db)
    for statement in ("UPDATE audit_entry SET actor_id = 'x' WHERE id = 1",
                      "DELETE FROM audit_entry",
                      "DELETE FROM audit_entry WHERE id = -1",
                      "TRUNCATE audit_entry"):
        with pytest.raises(DBAPIError, match="append-only"):
            with pg_engine.begin() as conn:
                conn.exec_driver_sql(statement)
    with db.read() as session:
        assert len(list_audit(session)) == 3
    # Inserts still work after refused changes; downgrade removes table and function.
    write_sample(db)
    with pg_engine.begin() as conn:
        run_migration(conn, "downgrade")
        assert not sa.inspect(conn).has_table("audit_entry")
        assert conn.exec_driver_sql(
            "SELECT count(*) FROM pg_proc WHERE proname = 'audit_entry_append_only' "
            "AND pronamespace = current_schema()::regnamespace").scalar() == 0
