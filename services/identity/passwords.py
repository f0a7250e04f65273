"""Password hashing with Argon2id (argon2-cffi's defaults, the RFC 9106 low-memory profile)."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from services.common.offload import Gate

_hasher = PasswordHasher()
# Argon2 runs in native threads, one per core at once (services.common.offload.Gate: a
# sign-in burst queues in arrival order instead of all hashing side by side and all
# missing the caller's deadline).
ARGON2 = Gate("argon2")

# Checked when the username is unknown, so a miss costs as long as a wrong
# password and response times do not tell which accounts exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password-only-for-timing")


def hash_password(password: str) -> str:
    return ARGON2.run(_hasher.hash, password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """False for a wrong password, an unknown user (`password_hash=None`) or a damaged hash."""
    try:
        matched = ARGON2.run(_hasher.verify, password_hash or _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return bool(matched and password_hash)


def needs_rehash(password_hash: str) -> bool:
    """True when the stored hash used weaker parameters than today's; rehash at the next login."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
