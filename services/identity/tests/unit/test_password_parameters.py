"""The production Argon2id parameters: 64 MiB, 3 passes, one lane; older 4-lane hashes still verify."""
from __future__ import annotations

import importlib

from argon2 import PasswordHasher, extract_parameters


def test_production_parameters_and_old_four_lane_hashes(monkeypatch):
    from services.identity import passwords
    production = importlib.reload(passwords)._hasher     # the module's own, not the tests' fast one
    params = extract_parameters(production.hash("x"))
    assert (params.memory_cost, params.time_cost, params.parallelism) == (65536, 3, 1)
    old = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4).hash("Passw0rd!2026")
    monkeypatch.setattr(passwords, "_hasher", production)
    assert passwords.verify_password(old, "Passw0rd!2026") and not passwords.verify_password(old, "wrong")
    assert passwords.needs_rehash(old) and not passwords.needs_rehash(production.hash("x"))
