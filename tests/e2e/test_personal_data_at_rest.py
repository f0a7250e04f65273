"""The at-rest scan (tests/e2e/personal_data.py) that runs when each end-to-end platform stops."""
from __future__ import annotations

from types import SimpleNamespace

from tests.e2e import personal_data


def test_the_scan_finds_a_plaintext_number_in_any_file(tmp_path):
    (tmp_path / "log").mkdir()
    (tmp_path / "log" / "identity.log").write_text("started\n")
    (tmp_path / "identity.db").write_bytes(b"\x00ciphertext\x00")
    plat = SimpleNamespace(data_dir=tmp_path, db_urls={})
    assert personal_data.findings(plat, ["13912345678"]) == []
    (tmp_path / "sms-outbox.log").write_text("code for 13912345678\n")
    assert personal_data.findings(plat, ["13912345678"]) == [
        f"13912345678 in plaintext in {tmp_path / 'sms-outbox.log'}"]


def test_the_scan_needs_the_logs(tmp_path):
    plat = SimpleNamespace(data_dir=tmp_path, db_urls={})
    assert "no service log" in personal_data.findings(plat, ["x"])[0]


def test_the_needles_are_the_demo_and_the_identity_flow_numbers():
    from services.identity.demo import DEMO_ID_NUMBER, DEMO_PHONE
    assert {DEMO_ID_NUMBER, DEMO_PHONE} <= set(personal_data.needles())
