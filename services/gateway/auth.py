"""Bearer-token authentication at the gateway.

Access tokens are verified locally (signature, expiry, issuer) so an
authenticated read costs no extra RPC. Logout must still take effect at once:
revoked session ids arrive as `user.session_revoked` events (each gateway
instance has its own broadcast queue) and are also loaded from identity when an
instance starts, so a gateway that was down during a logout still knows.
"""
from __future__ import annotations

import threading
from datetime import datetime
import time

import jwt

from services.common import config
from services.common.errors import Unauthorized

ISSUER = "qi-identity"


def decode_access_token(token: str) -> dict:
    try:
        claims = jwt.decode(token, config.jwt_secret(), algorithms=["HS256"], issuer=ISSUER,
                            options={"require": ["exp", "sub", "role", "sid"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("Access token expired / 访问令牌已过期", code="token_expired")
    except jwt.PyJWTError:
        raise Unauthorized("Invalid access token / 访问令牌无效", code="invalid_token")
    return claims


def bearer_token(header_value: str | None) -> str | None:
    if not header_value:
        return None
    scheme, _, token = header_value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>' / 认证头格式应为 Bearer 令牌",
                           code="invalid_token")
    return token.strip()


def epoch(iso_instant: str) -> float:
    return datetime.fromisoformat(iso_instant.replace("Z", "+00:00")).timestamp()


class RevocationList:
    """Session ids revoked before their tokens expire (kept until then)."""

    def __init__(self):
        self._revoked: dict[str, float] = {}
        self._lock = threading.Lock()
        self.loaded = False

    def add(self, sid: str, expires_at_epoch: float) -> None:
        with self._lock:
            self._revoked[sid] = expires_at_epoch

    def load(self, entries) -> None:
        for entry in entries:
            expires = entry.get("expires_at_epoch")
            self.add(entry["sid"], float(expires) if expires is not None else epoch(entry["expires_at"]))
        self.loaded = True

    def is_revoked(self, sid: str) -> bool:
        now = time.time()
        with self._lock:
            expired = [s for s, exp in self._revoked.items() if exp < now]
            for s in expired:
                del self._revoked[s]
            return sid in self._revoked
