"""Named to run after the other end-to-end modules of its database backend (pytest keeps
collection order within a parametrised session fixture's group, though it may interleave
groups), so the demo data and the identity flow's personal data have been written.

No plaintext ID number or phone number may be in any database file, SMS log or
service log, nor in any PostgreSQL database of the platform.
"""
from __future__ import annotations

from services.identity.demo import DEMO_ID_NUMBER, DEMO_PHONE
from tests.e2e.conftest import pg_dump_text
from tests.e2e.test_identity_flow import TEST_PHONE, VALID_ID


def test_no_plaintext_personal_data_at_rest_or_in_logs(platform, api):
    needles = [DEMO_ID_NUMBER, DEMO_PHONE, VALID_ID, TEST_PHONE]
    files = [p for p in platform.data_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".log" for p in files), "the service logs should be among the scanned files"
    for path in files:
        blob = path.read_bytes()
        for needle in needles:
            assert needle.encode() not in blob, f"{needle} in plaintext in {path}"
    for service, url in platform.db_urls.items():
        dump = pg_dump_text(url)
        for needle in needles:
            assert needle not in dump, f"{needle} in plaintext in the {service} PostgreSQL database"
