"""Pluggable external identity verification (level `externally_verified`).

No authoritative lookup (business registry, public-security ID check) is
reachable from this platform, so none is configured by default and the level
cannot be reached until an operator plugs one in:

    QI_EXTERNAL_VERIFIER=my_package.my_module:MyVerifier

names a class implementing `ExternalVerifier` below; it is instantiated once
with no arguments (read its own settings from the environment). The account
holder asks for the check (POST /api/v1/me/external-verification); the
verifier sees the personal data it needs to do its job, which is therefore the
only place those values leave the service; its `reference` (e.g. the
authority's transaction id) is stored, its `reason` shown to the user.
"""
from __future__ import annotations

import datetime as dt
import functools
import importlib
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from services.common import config
from services.common.db import utcnow
from services.common.errors import Conflict, DomainError, ServiceUnavailable
from services.common.verification_levels import meets

from . import levels
from .contract.vocabulary import SELF_REGISTERED_ROLES
from .models import User
from .principals import load_actor


@dataclass(frozen=True)
class VerificationSubject:
    user_id: str
    kind: str                      # "enterprise" | "person"
    uscc: str | None = None        # enterprise
    org_name: str | None = None    # enterprise
    contact_name: str | None = None
    real_name: str | None = None   # person
    id_number: str | None = None   # person
    phone: str | None = None


@dataclass(frozen=True)
class VerificationResult:
    verified: bool
    reference: str | None = None   # the authority's id for this check, kept
    reason: str | None = None      # why not, shown to the user ("中文 / English")


@dataclass(frozen=True)
class Outcome:
    """What ExternalVerificationOut dumps: the verifier's answer and the account's level after it."""

    verified: bool
    verifier: str
    verification_level: str | None
    reason: str | None = None
    verified_at: dt.datetime | None = None


@runtime_checkable
class ExternalVerifier(Protocol):
    name: str

    def verify(self, subject: VerificationSubject) -> VerificationResult:
        """Ask the authority; raise on a technical failure (the request then answers 503)."""


def not_configured() -> DomainError:
    # A plain DomainError: only classes the gateway imports survive the RPC as themselves.
    return DomainError("No external verifier is configured on this platform (QI_EXTERNAL_VERIFIER) / "
                       "本平台未配置外部核验服务", code="external_verification_not_configured", status=501,
                       title_zh="未配置外部核验", title_en="External verification not configured")


def load(spec: str | None) -> ExternalVerifier | None:
    """The verifier named by `module:Class`, or None for an empty spec."""
    spec = (spec or "").strip()
    if not spec:
        return None
    module_name, sep, class_name = spec.partition(":")
    if not sep or not module_name or not class_name:
        raise RuntimeError(f"QI_EXTERNAL_VERIFIER must look like module:Class, got {spec!r}")
    factory = getattr(importlib.import_module(module_name), class_name)
    verifier = factory() if callable(factory) else None
    if not isinstance(verifier, ExternalVerifier):
        raise RuntimeError(f"{spec} does not implement ExternalVerifier (name, verify)")
    return verifier


@functools.lru_cache(maxsize=1)
def configured() -> ExternalVerifier | None:
    return load(config.env("QI_EXTERNAL_VERIFIER", ""))


def subject_of(user: User) -> VerificationSubject:
    if user.role == "enterprise":
        return VerificationSubject(user.id, "enterprise", uscc=user.uscc, org_name=user.org_name,
                                   contact_name=user.real_name, phone=user.phone)
    return VerificationSubject(user.id, "person", real_name=user.real_name, id_number=user.id_number, phone=user.phone)


def precheck(user: User) -> None:
    if user.role not in SELF_REGISTERED_ROLES:
        raise Conflict("Only enterprise and personal accounts are verified externally / 仅企业和个人账号可外部核验",
                       code="external_verification_not_applicable")
    if user.externally_verified_at is not None:
        raise Conflict("Already externally verified / 已通过外部核验", code="already_externally_verified")
    if not meets(levels.level_of(user), "phone_verified"):
        raise Conflict("Verify your mobile number first / 请先验证手机号", code="phone_not_verified")


def ask(verifier: ExternalVerifier | None, subject: VerificationSubject) -> VerificationResult:
    """Outside any transaction: an authority may be slow."""
    if verifier is None:
        raise not_configured()
    try:
        result = verifier.verify(subject)
    except Exception as exc:
        raise ServiceUnavailable(f"The external verifier failed ({type(exc).__name__}); retry later / "
                                 "外部核验服务暂不可用，请稍后再试", code="external_verifier_failed",
                                 retry_after=60) from None
    if not isinstance(result, VerificationResult):
        raise ServiceUnavailable("The external verifier gave no usable answer / 外部核验服务返回无效结果",
                                 code="external_verifier_failed", retry_after=60)
    return result


def record(session, user: User, verifier: ExternalVerifier, result: VerificationResult,
           at: dt.datetime | None = None) -> Outcome:
    at = at or utcnow()
    if not result.verified:
        return Outcome(False, verifier.name, levels.level_of(user), reason=result.reason)
    before = levels.level_of(user)
    user.externally_verified_at = at
    user.external_verifier = f"{verifier.name}:{result.reference or ''}"[:100]
    user.updated_at = at
    levels.announce_if_raised(session, user, before, "external", at)
    return Outcome(True, verifier.name, levels.level_of(user), verified_at=at)


def request_external_verification(db, principal: dict) -> Outcome:
    """POST /me/external-verification: the verifier is asked outside any transaction (an authority
    may be slow), between a read that prechecks and a transaction that records the answer."""
    verifier = configured()
    with db.read() as session:
        user = load_actor(session, principal)
        precheck(user)
        subject = subject_of(user)
    result = ask(verifier, subject)
    with db.transaction() as session:
        user = load_actor(session, principal)
        precheck(user)
        return record(session, user, verifier, result)
