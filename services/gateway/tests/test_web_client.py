"""The committed typed API client (web/src/api/schema.d.ts) matches the gateway's OpenAPI
document today: any route or schema change without `npm --prefix web run gen:api` fails here."""
from __future__ import annotations

import os
import shutil
import sys
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
WEB = REPO / "web"


def test_generated_client_is_current():
    if not shutil.which("node") or not (WEB / "node_modules" / "openapi-typescript").is_dir():
        if os.environ.get("CI"):
            pytest.fail("node and web/node_modules are needed (.ci/run runs `npm ci` in web/)")
        pytest.skip("run `npm ci` in web/ first")
    result = subprocess.run(["node", "scripts/gen-api.mjs", "--check"], cwd=WEB, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "QI_PYTHON": sys.executable})
    assert result.returncode == 0, result.stderr + result.stdout
