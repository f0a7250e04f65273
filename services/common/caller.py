"""Who is calling: access tokens signed by identity (EdDSA/Ed25519), verified by every service.

Identity alone holds the private key and signs; the gateway and every service
verify with the public key, so a party that can publish on the broker but holds
no token signed by identity cannot act for anyone. The token travels in nameko
context data (`qi.access_token`, sent as message headers and propagated to the
RPCs a worker makes), never as an argument; a `principal` argument sent by a
caller is discarded (services.common.nameko_ext.rpc).

Logout must take effect at once everywhere: revoked session ids arrive as
identity's `user.session_revoked` broadcast event and are loaded from identity's
`revoked_sessions` RPC when first needed (and reloaded now and then, in case an
event was missed while a connection was down).
"""
from __future__ import annotations

import functools
import os
import secrets
import threading
import time
from collections import OrderedDict
from datetime import datetime
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import config
from .errors import Unauthorized

ISSUER = "qi-identity"
ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ["iss", "sub", "role", "sid", "exp", "iat"]

# nameko context data keys (sent as `nameko.<key>` message headers).
TOKEN_KEY = "qi.access_token"
CLIENT_IP_KEY = "qi.client_ip"
REQUEST_ID_KEY = "qi.request_id"
DEADLINE_KEY = "qi.deadline"


# -- keys ---------------------------------------------------------------------------------
PRIVATE_KEY_NAME = "jwt-ed25519.pem"
PUBLIC_KEY_NAME = "jwt-ed25519.pub.pem"


def ensure_dev_key_pair(keys_dir: Path | None = None, private_name: str = PRIVATE_KEY_NAME,
                        public_name: str = PUBLIC_KEY_NAME) -> None:
    """Generate the development key pair in `keys_dir` (QI_DATA_DIR/keys) once.

    Without `keys_dir`, a no-op when key files are configured (always so in
    production). Race-free across processes: the pair is written into a private
    temporary directory that is renamed into place in one step; a process that
    loses the race discards its pair and uses the winner's, so no one reads a
    half-written or mismatched pair.
    """
    if keys_dir is None:
        if not config.dev_keys_generated():
            return
        keys_dir = config.jwt_private_key_file().parent
    keys_dir = Path(keys_dir)
    if (keys_dir / private_name).exists() and (keys_dir / public_name).exists():
        return
    keys_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = keys_dir.parent / f".{keys_dir.name}-{os.getpid()}-{secrets.token_hex(4)}"
    staging.mkdir(mode=0o700)
    key = Ed25519PrivateKey.generate()
    (staging / private_name).write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    os.chmod(staging / private_name, 0o600)
    (staging / public_name).write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    try:
        os.rename(staging, keys_dir)
    except OSError:  # another process won: its directory is complete (it appeared by rename)
        for child in staging.iterdir():
            child.unlink()
        staging.rmdir()


@functools.lru_cache(maxsize=8)
def _load_key(path: str, private: bool, mtime: float):
    data = Path(path).read_bytes()
    if private:
        return serialization.load_pem_private_key(data, password=None)
    return serialization.load_pem_public_key(data)


# A key file is looked at (exists, stat) at most once a second per path: every verified call
# asked for the key, and those file-system calls were ~5 % of a service's CPU per request. A
# replaced key file is still picked up, within that second.
KEY_RECHECK_SECONDS = 1.0
_recent_keys: dict[tuple[str, bool], tuple[float, object]] = {}


def _key(path: Path, private: bool):
    now = time.monotonic()
    recent = _recent_keys.get((str(path), private))
    if recent is not None and now - recent[0] < KEY_RECHECK_SECONDS:
        return recent[1]
    ensure_dev_key_pair()
    try:
        key = _load_key(str(path), private, path.stat().st_mtime)
    except FileNotFoundError:
        raise RuntimeError(f"JWT key file {path} not found (QI_JWT_{'PRIVATE' if private else 'PUBLIC'}_KEY_FILE)")
    _recent_keys[(str(path), private)] = (now, key)
    return key


def signing_key():
    """Identity's private key; no other service calls this."""
    return _key(config.jwt_private_key_file(), private=True)


def verification_key():
    return _key(config.jwt_public_key_file(), private=False)


# -- verification -------------------------------------------------------------------------
class VerifiedTokens:
    """Claims of tokens whose signature this process already verified, by the exact token text.

    A client sends the same access token with every call for its whole lifetime (15
    minutes), and every service verified its EdDSA signature each time (~0.1 ms, the
    largest single step of a service's share of a read). A hit needs the same token
    string and the same verification key object (a replaced key file empties it in
    effect); expiry is checked on every hit as PyJWT checks it; revocation is not
    cached at all (verify_caller asks for every call). Bounded: the oldest entry goes.
    """

    def __init__(self, size: int = 4096):
        self.size = size
        self._entries: OrderedDict[str, tuple[object, dict]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str, key) -> dict | None:
        with self._lock:
            entry = self._entries.get(token)
            if entry is None or entry[0] is not key:
                return None
            self._entries.move_to_end(token)
            return entry[1]

    def put(self, token: str, key, claims: dict) -> None:
        with self._lock:
            self._entries[token] = (key, claims)
            self._entries.move_to_end(token)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


_verified = VerifiedTokens()


def _expired() -> Unauthorized:
    return Unauthorized("Access token expired / 访问令牌已过期", code="token_expired")


def verify_token(token) -> dict:
    """Claims of a valid access token, or Unauthorized (invalid_token / token_expired).

    Only EdDSA is accepted: an HS256 token (e.g. made with the old shared secret)
    or a token signed by any other key is invalid.
    """
    if not token or not isinstance(token, str):
        raise Unauthorized("Missing access token / 缺少访问令牌", code="invalid_token")
    key = verification_key()
    claims = _verified.get(token, key)
    if claims is not None:
        if claims["exp"] <= time.time():  # PyJWT's rule (no leeway): valid while now < exp
            raise _expired()
        return dict(claims)
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": REQUIRED_CLAIMS})
    except jwt.ExpiredSignatureError:
        raise _expired() from None
    except jwt.PyJWTError:
        raise Unauthorized("Invalid access token / 访问令牌无效", code="invalid_token") from None
    _verified.put(token, key, dict(claims))
    return claims


def principal_from_claims(claims: dict, ip: str | None = None, request_id: str | None = None) -> dict:
    """The verified caller; `ip` and `request_id` are audit metadata from the gateway, not proof."""
    return {"user_id": claims["sub"], "role": claims["role"], "sid": claims["sid"],
            "window_id": claims.get("window_id"), "institution_id": claims.get("institution_id"),
            "verification_level": claims.get("verification_level"),
            "ip": ip, "request_id": request_id}


def epoch(iso_instant: str) -> float:
    return datetime.fromisoformat(iso_instant.replace("Z", "+00:00")).timestamp()


class RevocationList:
    """Session ids revoked before their tokens expire (kept until then).

    `needs_load()` is true before the first load and again every
    QI_REVOCATION_RELOAD_SECONDS, so an event missed during a broker reconnect
    is corrected by the next reload.
    """

    def __init__(self, reload_seconds: float | None = None):
        self._revoked: dict[str, float] = {}
        self._lock = threading.Lock()
        self._pruned_at = 0.0
        self.loaded_at: float | None = None
        self.reload_seconds = config.revocation_reload_seconds() if reload_seconds is None else reload_seconds

    @property
    def loaded(self) -> bool:
        return self.loaded_at is not None

    def needs_load(self) -> bool:
        return self.loaded_at is None or time.monotonic() - self.loaded_at > self.reload_seconds

    def add(self, sid: str, expires_at_epoch: float) -> None:
        with self._lock:
            self._revoked[sid] = expires_at_epoch

    def add_event(self, envelope: dict) -> None:
        """Apply one `user.session_revoked` envelope."""
        self.add(envelope["data"]["sid"], epoch(envelope["data"]["expires_at"]))

    def load(self, entries) -> None:
        for entry in entries:
            expires = entry.get("expires_at_epoch")
            self.add(entry["sid"], float(expires) if expires is not None else epoch(entry["expires_at"]))
        self.loaded_at = time.monotonic()

    # Entries whose tokens expired are dropped at most once a second, not on every call: the
    # scan is linear in the list, and every verified call of every process asks.
    PRUNE_SECONDS = 1.0

    def is_revoked(self, sid: str) -> bool:
        now = time.time()
        with self._lock:
            if now - self._pruned_at >= self.PRUNE_SECONDS:
                for s in [s for s, exp in self._revoked.items() if exp < now]:
                    del self._revoked[s]
                self._pruned_at = now
            expires = self._revoked.get(sid)
            return expires is not None and expires >= now


def session_revoked_error() -> Unauthorized:
    return Unauthorized("Session signed out / 会话已退出", code="session_revoked")


def verify_caller(token, is_revoked, ip: str | None = None, request_id: str | None = None) -> dict:
    """Verify `token` and build the principal; `is_revoked(sid)` says whether the session ended."""
    claims = verify_token(token)
    if is_revoked(claims["sid"]):
        raise session_revoked_error()
    return principal_from_claims(claims, ip=ip, request_id=request_id)
