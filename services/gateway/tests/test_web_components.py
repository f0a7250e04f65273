"""The web UI's Vitest component and unit tests (web/tests/: problem+json field errors, times
in Asia/Shanghai, money, the language switch, the verification-level message), run from
pytest so that the suite's one command runs them and fails when they fail."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[3] / "web"


def test_vitest_component_tests_pass():
    if not shutil.which("npm") or not (WEB / "node_modules" / "vitest").is_dir():
        if os.environ.get("CI"):
            pytest.fail("npm and web/node_modules are needed (.ci/run runs `npm ci` in web/)")
        pytest.skip("run `npm ci` in web/ first")
    result = subprocess.run(["npm", "test", "--silent", "--", "--reporter=verbose"], cwd=WEB, capture_output=True,
                            text=True, timeout=240, env={**os.environ, "CI": "1", "NO_COLOR": "1"})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Tests  " in output and " failed" not in output, output
    assert "passed" in output, output
