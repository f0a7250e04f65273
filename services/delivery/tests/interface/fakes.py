"""Stand-ins for the services delivery talks to, run beside it by the interface tests.

identity answers `revoked_sessions` (every service loads the list once); matching
records `publish_demand` calls with whether the caller's token travelled along.
"""
from __future__ import annotations

from nameko.contextdata import ContextDataProvider
from nameko.rpc import rpc

from services.common.nameko_ext import rpc as platform_rpc


class Token(ContextDataProvider):
    context_key = "qi.access_token"


class FakeIdentity:
    name = "identity"

    @rpc
    def revoked_sessions(self):
        return []


PUBLISHED: list = []


class FakeMatching:
    name = "matching"
    token = Token()

    # The platform's entrypoint, as the real matching's: delivery calls it over direct reply-to
    # (services.common.direct_rpc), which nameko's plain `rpc` does not answer.
    @platform_rpc
    def publish_demand(self, payload, idempotency_key=None):
        PUBLISHED.append({"payload": payload, "key": idempotency_key, "token": bool(self.token)})
        return {"id": f"demand-{len(PUBLISHED)}", "status": "published"}

    @rpc
    def published(self):
        return PUBLISHED
