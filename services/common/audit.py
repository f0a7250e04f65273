"""Append-only audit log of security-relevant actions, one table per service database.

Who saw whose personal data, who changed a role, who approved what: entries are
written in the same transaction as the action (`audit(session, ...)`), so an
action without its entry cannot commit, and an entry for an action that rolled
back never appears.

Append-only is enforced twice: ORM events refuse updates and deletes made
through SQLAlchemy (a programming error surfaces in tests), and a database
trigger refuses them from anything else (a psql session, a stray script).

`detail` must never carry personal data in clear: the audit log is read by
operators who are not necessarily allowed to see it, and it is kept longer than
the data it describes. Record ids, field names, masked values; `audit` refuses
a detail that looks like a phone or ID number.
"""
from __future__ import annotations

import datetime as dt
import json
import re

from sqlalchemy import DateTime, Index, Integer, String, Text, event, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .pii import mask_id_number, mask_phone
from .db import CommonBase, utcnow
from .events import iso_utc

SYSTEM_ACTOR = "system"
TABLE = "audit_entry"


class AuditAppendOnlyError(RuntimeError):
    """An attempt to change or remove an audit entry."""


class AuditEntry(CommonBase):
    __tablename__ = TABLE
    __table_args__ = (
        Index("ix_audit_entry_actor", "actor_id"),
        Index("ix_audit_entry_target", "target_type", "target_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    actor_id: Mapped[str] = mapped_column(String(64), nullable=False)
    actor_role: Mapped[str | None] = mapped_column(String(32), nullable=True)
    action: Mapped[str] = mapped_column(String(100), nullable=False)
    target_type: Mapped[str] = mapped_column(String(50), nullable=False)
    target_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    target_owner_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # JSON text; no personal data in clear (see module docstring).
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)


# Trigger DDL, applied by migration common_0003. The migration imports these
# constants, so they are part of that migration's history: never edit them in
# place; a changed trigger needs a new migration with new constants.
SQLITE_APPEND_ONLY_DDL = (
    "CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry "
    "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END;",
    "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
    "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END;",
)
SQLITE_APPEND_ONLY_DROP = (
    "DROP TRIGGER IF EXISTS audit_entry_no_delete",
    "DROP TRIGGER IF EXISTS audit_entry_no_update",
)

# Statement-level, so even an UPDATE/DELETE matching no row is refused, and
# TRUNCATE (which bypasses row triggers) is covered too.
POSTGRES_APPEND_ONLY_DDL = (
    """
    CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_entry is append-only (% rejected)', TG_OP;
    END;
    $$
    """,
    "CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_entry "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()",
)
POSTGRES_APPEND_ONLY_DROP = (
    "DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_entry",
    "DROP FUNCTION IF EXISTS audit_entry_append_only()",
)


@event.listens_for(AuditEntry, "before_update")
def _refuse_update(_mapper, _connection, target):
    raise AuditAppendOnlyError(f"audit entry {target.id} cannot be modified: the audit log is append-only")


@event.listens_for(AuditEntry, "before_delete")
def _refuse_delete(_mapper, _connection, target):
    raise AuditAppendOnlyError(f"audit entry {target.id} cannot be deleted: the audit log is append-only")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_change(state):
    # Bulk update()/delete() statements skip the mapper events above.
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) == TABLE:
        raise AuditAppendOnlyError("bulk UPDATE/DELETE on audit_entry refused: the audit log is append-only")


_PHONE_LIKE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


def _serialize_detail(detail) -> str | None:
    """JSON of the detail with anything shaped like a mobile or ID number masked.

    Details often carry what an operator typed (a window's contact line, review
    reasons); refusing them would make the action itself fail, so the audit log
    keeps the masked form instead of the plaintext.
    """
    if detail is None:
        return None
    text = json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)
    text = _PHONE_LIKE.sub(lambda m: mask_phone(m.group(0)), text)
    return _ID_LIKE.sub(lambda m: mask_id_number(m.group(0)), text)


def audit(session: Session, principal: dict | None, action: str, target_type: str, target_id,
          owner_id=None, detail: dict | None = None, request_id: str | None = None) -> AuditEntry:
    """Add an audit entry to the caller's transaction; `principal=None` means a system action."""
    principal = principal or {}
    entry = AuditEntry(
        at=utcnow(),
        actor_id=str(principal.get("user_id") or SYSTEM_ACTOR),
        actor_role=principal.get("role") if principal else SYSTEM_ACTOR,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        target_owner_id=None if owner_id is None else str(owner_id),
        ip=principal.get("ip"),
        request_id=request_id or principal.get("request_id"),
        detail=_serialize_detail(detail),
    )
    session.add(entry)
    return entry


def entry_to_dict(entry: AuditEntry) -> dict:
    return {
        "id": entry.id,
        "at": iso_utc(entry.at),
        "actor_id": entry.actor_id,
        "actor_role": entry.actor_role,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "target_owner_id": entry.target_owner_id,
        "ip": entry.ip,
        "request_id": entry.request_id,
        "detail": json.loads(entry.detail) if entry.detail else None,
    }


def list_audit(session: Session, actor_id: str | None = None, target_type: str | None = None,
               target_id=None, action: str | None = None, limit: int = 100,
               before_id: int | None = None) -> list[dict]:
    """Entries newest first; pass the last id seen as `before_id` for the next page."""
    query = select(AuditEntry)
    if actor_id is not None:
        query = query.where(AuditEntry.actor_id == actor_id)
    if target_type is not None:
        query = query.where(AuditEntry.target_type == target_type)
    if target_id is not None:
        query = query.where(AuditEntry.target_id == str(target_id))
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    limit = max(1, min(int(limit), 1000))
    query = query.order_by(AuditEntry.id.desc()).limit(limit)
    return [entry_to_dict(e) for e in session.scalars(query)]
