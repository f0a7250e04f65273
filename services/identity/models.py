"""Identity tables: accounts, phone one-time codes, login sessions.

ID numbers, phones and real names are `EncryptedText` (AES-GCM at rest); the
`*_bidx` columns are keyed blind indexes, the only way to look them up. The
migrations identity_0001.. create exactly these tables; change both together.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import utcnow, new_id, one_of as _in  # noqa: F401 (new_id re-exported)
from services.common.pii import EncryptedText

from .contract.vocabulary import LICENCE_STATUSES, ROLES, STATUSES


class Base(DeclarativeBase):
    """Metadata of the identity service's own tables."""


class User(Base):
    __tablename__ = "user"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="ck_user_role"),
        CheckConstraint(_in("status", STATUSES), name="ck_user_status"),
        Index("ix_user_id_number_bidx", "id_number_bidx"),
        Index("ix_user_phone_bidx", "phone_bidx"),
        # A phone identifies one live account (OTP, lookup by phone); a disabled
        # account must not keep the number hostage, hence the partial index.
        Index("uq_user_phone_bidx_active", "phone_bidx", unique=True,
              sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
        Index("ix_user_role_username", "role", "username"),
        Index("ix_user_uscc", "uscc"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="active")
    # The public face of the account (前台自愿): may be shown to anyone.
    nickname: Mapped[str] = mapped_column(String(64), nullable=False)
    real_name: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    id_number: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    id_number_bidx: Mapped[str | None] = mapped_column(String(64), nullable=True)
    phone: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    phone_bidx: Mapped[str | None] = mapped_column(String(64), nullable=True)
    phone_verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    org_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Business-registry data printed on the licence: public, so kept in clear.
    uscc: Mapped[str | None] = mapped_column(String(18), nullable=True)
    # Verification evidence, one moment each (levels.level_of turns them into the level).
    # format_checked_at: the USCC / ID number passed its check characters (registration).
    format_checked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    # An operator approved the uploaded business licence (licence.py).
    licence_reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    # An external verifier confirmed the identity (external.py), and which one.
    externally_verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    external_verifier: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # Since identity_0004: when the identity was first verified beyond its format
    # (licence reviewed or external check); before, it was set by a checksum.
    identity_verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    window_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    institution_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class PhoneChallenge(Base):
    __tablename__ = "phone_challenge"
    __table_args__ = (Index("ix_phone_challenge_user_created", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(36), ForeignKey("user.id"), nullable=False)
    purpose: Mapped[str] = mapped_column(String(32), nullable=False)
    # The number the code went to: if the account's phone changes meanwhile,
    # the code must not verify the new number.
    phone_bidx: Mapped[str] = mapped_column(String(64), nullable=False)
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    consumed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class AuthSession(Base):
    """One login: the family of refresh tokens rotated from it."""

    __tablename__ = "auth_session"
    __table_args__ = (
        Index("ix_auth_session_user", "user_id"),
        Index("ix_auth_session_revoked", "revoked_at", "access_expires_at"),
    )

    sid: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(36), ForeignKey("user.id"), nullable=False)
    refresh_token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    rotation: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    # Latest expiry of any access token issued in this session: a revoked sid
    # must stay on the gateways' deny-list until then, and no longer.
    access_expires_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class RefreshTokenRecord(Base):
    """Every refresh token ever issued (hashed), so presenting a rotated one is
    recognised as replay rather than as an unknown token."""

    __tablename__ = "auth_refresh_token"
    __table_args__ = (Index("ix_auth_refresh_token_sid", "sid"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    sid: Mapped[str] = mapped_column(String(36), ForeignKey("auth_session.sid"), nullable=False)
    rotation: Mapped[int] = mapped_column(Integer, nullable=False)
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    rotated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class RoleChange(Base):
    __tablename__ = "role_change"
    __table_args__ = (Index("ix_role_change_user", "user_id", "changed_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(36), ForeignKey("user.id"), nullable=False)
    old_role: Mapped[str] = mapped_column(String(20), nullable=False)
    new_role: Mapped[str] = mapped_column(String(20), nullable=False)
    changed_by: Mapped[str] = mapped_column(String(64), nullable=False)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class LoginFailure(Base):
    """One failed sign-in, under both throttling keys (see throttle.py).

    Keys are HMACs of (username, client network) and of the network: people type
    their phone number into the username box, unknown names are recorded too
    (throttling only real accounts would tell an attacker which exist), and no
    client address is kept at rest.
    """

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_account_network_at", "account_network_key", "at"),
                      Index("ix_login_failure_network_at", "network_key", "at"),
                      Index("ix_login_failure_at", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_network_key: Mapped[str] = mapped_column(String(64), nullable=False)
    network_key: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)


class RegistrationConflict(Base):
    """Self-registrations refused because the identity details already have an account.

    Registration answers one generic `registration_conflict` for a taken phone,
    ID number or credit code, but each refusal still tells the caller that *some*
    detail is registered; counting them per client network lets the service stop
    a caller from testing list after list of numbers. Keyed by an HMAC of the
    network (no client addresses at rest), like LoginFailure.
    """

    __tablename__ = "registration_conflict"
    __table_args__ = (Index("ix_registration_conflict_key_at", "client_key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_key: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)


class IdentityFile(Base):
    """Metadata of a content-addressed file (bytes under data_dir/identity-files)."""

    __tablename__ = "identity_file"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    media_type: Mapped[str] = mapped_column(String(100), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class LicenceReview(Base):
    """An enterprise's business licence under review: one case per account.

    Submitted -> approved, or returned with a reason -> resubmitted (a new file,
    round + 1, the review clock restarts) -> ... Every step is kept in `history`.
    """

    __tablename__ = "licence_review"
    __table_args__ = (
        CheckConstraint(_in("status", LICENCE_STATUSES), name="ck_licence_review_status"),
        Index("ix_licence_review_status_submitted", "status", "submitted_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(36), ForeignKey("user.id"), nullable=False, unique=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    file_sha256: Mapped[str] = mapped_column(String(64), ForeignKey("identity_file.sha256"), nullable=False)
    filename: Mapped[str] = mapped_column(String(200), nullable=False)
    round: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    return_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    history: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
