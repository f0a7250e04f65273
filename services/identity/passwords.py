"""Password hashing with Argon2id: RFC 9106's low-memory profile (64 MiB, 3 passes), one lane.

argon2-cffi's default is 4 lanes, which the C code runs in 4 native threads that meet at
a barrier 12 times per hash. With sign-ins arriving concurrently on a 2-core server that
buys no latency, only barrier waits: measured on the development machine (load ~8), the
same 12 checks through 2 threads took 2.1 s with 4 lanes and 1.2 s with one, at the same
CPU per check (~165 ms). Memory (64 MiB) and passes (3), which set an attacker's cost, are
unchanged. Hashes made with 4 lanes still verify (the parameters are in the hash) and are
rehashed at the next sign-in (needs_rehash).
"""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from services.common.offload import Gate

_hasher = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=1)
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
