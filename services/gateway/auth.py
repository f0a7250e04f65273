"""Bearer-token authentication at the gateway.

Access tokens are verified locally with identity's public key (EdDSA, see
services.common.caller) so that role checks cost no extra RPC; the services
verify the same token again themselves, from the call's context data. Logout
must still take effect at once: revoked session ids arrive as
`user.session_revoked` events (each gateway instance has its own broadcast
queue) and are also loaded from identity when first needed, so a gateway that
was down during a logout still knows.
"""
from __future__ import annotations

from services.common.caller import ISSUER, RevocationList, epoch, verify_token  # noqa: F401 (re-exported)
from services.common.errors import Unauthorized


def decode_access_token(token: str) -> dict:
    return verify_token(token)


def bearer_token(header_value: str | None) -> str | None:
    if not header_value:
        return None
    scheme, _, token = header_value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>' / 认证头格式应为 Bearer 令牌",
                           code="invalid_token")
    return token.strip()
