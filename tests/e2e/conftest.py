"""The whole platform as separate processes (the README run path), once per database backend."""
from __future__ import annotations

import socket

import pytest
import requests

from deploy.local import Platform, running_services
from tests.conftest import BACKENDS, own_vhost
from tests.e2e.personal_data import findings as personal_data_at_rest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    """A tiny HTTP client for the gateway that fails loudly on a hang."""

    def __init__(self, base: str):
        self.base = base

    def request(self, method, path, token=None, headers=None, **kwargs):
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def login(self, username, password="Passw0rd!2026"):
        response = self.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return response.json()["access_token"]


@pytest.fixture(scope="session", params=BACKENDS)
def platform(request, pg_databases, tmp_path_factory):
    # One vhost per platform: two platforms on one vhost would answer each other's RPCs.
    with own_vhost() as amqp_uri:
        yield from _platform(request.param, amqp_uri, pg_databases, tmp_path_factory)


def _platform(backend, amqp_uri, pg_databases, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp(f"platform-{backend}")
    env = {
        "QI_DATA_DIR": str(data_dir),
        "QI_AMQP_URI": amqp_uri,
        "QI_GATEWAY_PORT": str(free_port()),
        "QI_RPC_TIMEOUT": "5",  # services give up 0.5 s earlier (deadline); argon2 logins on a loaded CI host need the room
        "QI_SMS_SENDER": "log", "QI_DB_POOL_SIZE": "2",
        # The test client connects from 127.0.0.1; trusting it as a proxy lets a test
        # play clients on other networks through X-Forwarded-For (login throttling).
        "QI_TRUSTED_PROXIES": "127.0.0.1",
    }
    for service in running_services():
        env[f"QI_METRICS_PORT_{service.upper()}"] = str(free_port())
    db_urls = {}
    if backend == "postgresql":
        from services.common.migrate import available_services
        for service in available_services():
            db_urls[service] = pg_databases.create(service)
            env[f"QI_DB_URL_{service.upper()}"] = db_urls[service]
    plat = Platform(env=env, log_dir=data_dir / "log")
    plat.backend = backend
    plat.data_dir = data_dir
    plat.db_urls = db_urls
    try:
        plat.start()
        plat.seed_demo()
    except Exception:
        plat.stop()
        for log in (data_dir / "log").glob("*.log"):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        raise
    yield plat
    plat.stop()
    # Final step, after every test of this backend (whatever their names or order): what they
    # wrote holds no plaintext ID or phone number, in files, logs or PostgreSQL.
    found = personal_data_at_rest(plat)
    assert not found, "personal data at rest in plaintext:\n" + "\n".join(found)


@pytest.fixture(scope="session")
def api(platform):
    return Api(platform.gateway_url)


@pytest.fixture(scope="session")
def browser():
    """One Chromium (Playwright's sync API) for every browser test of the session: a second
    sync_playwright in the same thread is refused, so test_web_*.py modules share this one."""
    import os
    from pathlib import Path
    chromium_path = os.environ.get("QI_CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium_path).exists():
        if os.environ.get("CI"):   # on CI the browser is installed by .ci/run: missing there is a failure
            pytest.fail(f"{chromium_path} is missing (CI installs it in .ci/run)")
        pytest.skip(f"{chromium_path} is missing")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=chromium_path, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()
