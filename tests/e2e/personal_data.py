"""The final step of every end-to-end platform: no plaintext personal data at rest.

tests/e2e/conftest.py calls `findings(platform)` when a backend's platform has stopped,
that is after every test that used it, whatever their file names or order; a finding
fails the run (an error at the platform fixture's teardown). It scans what the tests
wrote: every file under the platform's data directory (SQLite databases, uploaded
files, the SMS log, the service logs) and a `pg_dump` of each PostgreSQL database.
"""
from __future__ import annotations

import subprocess


def pg_dump_text(url: str) -> str:
    return subprocess.run(["pg_dump", "--data-only", url], capture_output=True, text=True, check=True).stdout


def needles() -> list[str]:
    """ID and phone numbers the demo data and the end-to-end tests write (encrypted, they say)."""
    from services.identity.demo import DEMO_ID_NUMBER, DEMO_PHONE
    from tests.e2e.test_identity_flow import TEST_PHONE, VALID_ID
    return [DEMO_ID_NUMBER, DEMO_PHONE, VALID_ID, TEST_PHONE]


def findings(platform, values: list[str] | None = None) -> list[str]:
    values = needles() if values is None else values
    found = []
    files = [p for p in platform.data_dir.rglob("*") if p.is_file()]
    if not any(p.suffix == ".log" for p in files):
        found.append(f"no service log under {platform.data_dir}: the scan would miss the logs")
    for path in files:
        blob = path.read_bytes()
        found += [f"{value} in plaintext in {path}" for value in values if value.encode() in blob]
    for service, url in (platform.db_urls or {}).items():
        dump = pg_dump_text(url)
        found += [f"{value} in plaintext in the {service} PostgreSQL database" for value in values if value in dump]
    return found
