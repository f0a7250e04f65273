"""A stand-in for identity in interface tests: the revoked-session list every service loads (empty)."""
from __future__ import annotations

from nameko.rpc import rpc


class FakeIdentity:
    name = "identity"

    @rpc
    def revoked_sessions(self):
        return []
