"""docker-compose.yml: the platform talks to RabbitMQ as its own user, never as guest.

No Docker engine runs here, so the compose file is checked by reading, and the broker's
entrypoint script (which seeds the platform user) is run in a sandbox with the image's
commands replaced by recorders.
"""
from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from services.common import platform
from services.common.config import REPO_ROOT

COMPOSE = REPO_ROOT / "docker-compose.yml"
ENTRYPOINT = REPO_ROOT / "deploy/rabbitmq/entrypoint.sh"
RABBIT_CONF = REPO_ROOT / "deploy/rabbitmq/rabbitmq.conf"
PLATFORM_USER = "qi-platform"
# Every process of the platform that talks to the broker (the migrate job shares the image and env).
PLATFORM_SERVICES = set(platform.present())


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def platform_services(compose) -> dict:
    """Services built from the platform image (whatever other helpers add beside them)."""
    return {name: svc for name, svc in compose["services"].items()
            if isinstance(svc.get("build"), dict) and svc["build"].get("dockerfile") == "deploy/Dockerfile"}


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def test_no_service_uses_guest(compose):
    for name, service in compose["services"].items():
        for text in _strings(service):
            assert "guest" not in text.lower(), f"{name}: {text}"


def test_every_platform_service_connects_as_the_platform_user(compose):
    services = platform_services(compose)
    assert PLATFORM_SERVICES <= set(services), set(services)
    for name in PLATFORM_SERVICES:
        uri = services[name]["environment"]["QI_AMQP_URI"]
        parsed = urlparse(re.sub(r"\$\{[^}]*\}", "PASSWORD", uri))   # as compose interpolates it
        assert parsed.scheme in {"amqp", "amqps"} and parsed.hostname == "rabbitmq", uri
        assert parsed.username == PLATFORM_USER, uri
        # the password is required from the environment, never written in the file
        assert re.fullmatch(r"amqps?://qi-platform:\$\{QI_AMQP_PASSWORD:\?[^}]*\}@rabbitmq:\d+/", uri), uri


def test_the_broker_seeds_the_platform_user_from_the_environment(compose):
    rabbit = compose["services"]["rabbitmq"]
    env = rabbit["environment"]
    assert env["QI_AMQP_USER"] == PLATFORM_USER
    assert re.fullmatch(r"\$\{QI_AMQP_PASSWORD:\?[^}]*\}", env["QI_AMQP_PASSWORD"])
    assert not any(key.startswith("RABBITMQ_DEFAULT_") for key in env)   # would seed another user
    mounts = {m.split(":")[1]: m.split(":")[0] for m in rabbit["volumes"] if m.startswith("./")}
    assert mounts["/etc/qi/rabbitmq-entrypoint.sh"] == "./deploy/rabbitmq/entrypoint.sh"
    assert mounts["/etc/rabbitmq/conf.d/20-qi.conf"] == "./deploy/rabbitmq/rabbitmq.conf"
    assert rabbit["entrypoint"][-1] == "/etc/qi/rabbitmq-entrypoint.sh"
    assert rabbit["command"] == ["rabbitmq-server"]


def test_broker_conf_gives_the_platform_user_no_admin_tag_and_only_its_vhost():
    settings = dict(line.split(" = ", 1) for line in RABBIT_CONF.read_text().splitlines()
                    if line.strip() and not line.startswith("#"))
    assert settings["default_user_tags.administrator"] == "false"
    assert settings["default_vhost"] == "/"
    assert settings["loopback_users.guest"] == "true"
    assert not any(key in settings for key in ("default_user", "default_pass"))   # never in the repository


def _sandbox(tmp_path) -> tuple[dict, Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("rabbitmq-plugins", "docker-entrypoint.sh"):
        script = bin_dir / tool
        script.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{tmp_path}/calls"\n')
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    conf_dir = tmp_path / "conf.d"
    conf_dir.mkdir()
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "QI_RABBITMQ_CONF_DIR": str(conf_dir),
           "QI_AMQP_USER": PLATFORM_USER}
    return env, conf_dir


def test_entrypoint_writes_the_user_and_hands_over(tmp_path):
    env, conf_dir = _sandbox(tmp_path)
    password = "0123456789abcdef0123456789abcdef"
    done = subprocess.run(["/bin/sh", str(ENTRYPOINT), "rabbitmq-server"], env={**env, "QI_AMQP_PASSWORD": password},
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    written = conf_dir / "30-qi-platform-user.conf"
    assert written.read_text() == f"default_user = {PLATFORM_USER}\ndefault_pass = {password}\n"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls == ["rabbitmq-plugins enable --offline rabbitmq_prometheus", "docker-entrypoint.sh rabbitmq-server"]


@pytest.mark.parametrize("password", [None, "", "short-but-ok", "has space in it 123456", "quote'd0123456789abc",
                                      "new\nline0123456789abcdef"])
def test_entrypoint_refuses_a_missing_or_unsafe_password(tmp_path, password):
    env, conf_dir = _sandbox(tmp_path)
    if password is not None:
        env["QI_AMQP_PASSWORD"] = password
    done = subprocess.run(["/bin/sh", str(ENTRYPOINT), "rabbitmq-server"], env=env, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode != 0
    assert "QI_AMQP_PASSWORD" in done.stderr
    assert not list(conf_dir.iterdir()) and not (tmp_path / "calls").exists()
