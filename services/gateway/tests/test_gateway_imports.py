"""The gateway is built from contracts: it loads no service's models and writes few routes by hand."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from services.common.platform import REPO

PROBE = """
import json, sys
import services.gateway.service  # noqa: F401
print(json.dumps(sorted(m for m in sys.modules
                        if m.startswith("services.") and (m.endswith(".models") or ".models." in m))))
"""


def test_importing_the_gateway_loads_no_service_models():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == [], loaded


def test_fewer_than_ten_hand_written_routes():
    from services.gateway.routes import ROUTES
    by_hand = [r.endpoint for r in ROUTES if r.operation is None]
    assert len(by_hand) < 10, by_hand
