"""Configuration from environment variables, with documented defaults.

Every knob the platform has is read here and nowhere else, so the list below is
the whole operator-facing configuration surface (README "Configuration" mirrors it).

| variable                 | default                                   | meaning |
|--------------------------|-------------------------------------------|---------|
| QI_AMQP_URI              | amqp://guest:guest@127.0.0.1:5672/        | RabbitMQ |
| QI_DATA_DIR              | ./var                                     | SQLite files, logs, uploaded files |
| QI_DB_URL_<SERVICE>      | sqlite:///<QI_DATA_DIR>/<service>.db      | database of one service |
| QI_DB_URL                | (unset)                                   | template for all services, `{service}` is replaced |
| QI_DB_POOL_SIZE          | 10                                        | PostgreSQL connections per engine (as many again may overflow) |
| QI_CPU_GATE_<NAME>       | the machine's cores                       | CPU-heavy native calls at once per process (ARGON2: password checks; services.common.offload) |
| QI_JWT_PRIVATE_KEY_FILE  | dev: <QI_DATA_DIR>/keys/jwt-ed25519.pem   | Ed25519 PEM private key; identity alone signs access tokens |
| QI_JWT_PUBLIC_KEY_FILE   | dev: <QI_DATA_DIR>/keys/jwt-ed25519.pub.pem | its public key; every service and the gateway verify with it |
| QI_REVOCATION_RELOAD_SECONDS | 60                                    | a service reloads identity's revoked-session list this often (safety net for missed events) |
| QI_ACCESS_TOKEN_TTL      | 900                                       | seconds an access token lives |
| QI_REFRESH_TOKEN_TTL     | 1209600                                   | seconds a refresh token lives |
| QI_PII_KEYS              | dev-only key (warns)                      | `kid:base64key,kid2:base64key` AES-256-GCM keys |
| QI_PII_ACTIVE_KID        | first of QI_PII_KEYS                      | key id used for new encryptions |
| QI_BLIND_INDEX_KEY       | dev-only key (warns)                      | HMAC key of the searchable blind index |
| QI_CONTEXT_SEAL_KEY      | dev-only key (warns)                      | HMAC key the gateway seals the client's address with (services.common.client_address) |
| QI_RPC_TIMEOUT           | 5                                         | seconds the gateway waits for a service |
| QI_RPC_DEADLINE_MARGIN   | 0.5                                       | the deadline sent with an RPC is this much before the gateway gives up |
| QI_METRICS_PORT_<SERVICE>| see DEFAULT_METRICS_PORTS                 | Prometheus port of one service |
| QI_GATEWAY_PORT          | 8000                                      | HTTP port of the gateway |
| QI_SLA_RULES_FILE        | services/common/data/sla_rules.json       | time limits (data, not code) |
| QI_CALENDAR_DIR          | services/common/data/calendar             | State Council notices loaded by operators |
| QI_OUTBOX_POLL_SECONDS   | 0.5                                       | relay poll interval when idle |
| QI_OUTBOX_RETENTION_DAYS | 30                                        | days sent events and processed-event ids are kept (replay, dedup) |
| QI_EVENT_ARCHIVE_MAX_AGE | 30D                                       | retention of the event archive stream (x-max-age: Y M D h m s) |
| QI_RABBITMQCTL           | rabbitmqctl                               | command `services.common.agencies` runs (e.g. `docker compose exec -T rabbitmq rabbitmqctl`) |
| QI_SMS_SENDER            | log                                       | one-time-code sender; `log` appends to <QI_DATA_DIR>/sms-outbox.log |
| QI_METRICS_ADDR          | 127.0.0.1                                 | address the services' metrics ports bind to |
| QI_GATEWAY_ADDR          | 127.0.0.1                                 | address the gateway binds to (nameko.yaml) |
| QI_TRUSTED_PROXIES       | (none)                                    | comma-separated proxy IPs whose X-Forwarded-For is believed |
| QI_ENV                   | dev                                       | `production` refuses the development keys |
"""
from __future__ import annotations

import os
import logging
from pathlib import Path

from . import platform

REPO_ROOT = Path(__file__).resolve().parents[2]

DEFAULT_METRICS_PORTS = {s.name: s.metrics_port for s in platform.SERVICES}

# 32 zero-free bytes, base64; only for local runs and tests.
_DEV_PII_KEYS = "dev1:ZGV2LW9ubHktcGlpLWtleS0zMi1ieXRlcy1sb25nISE="
_DEV_BLIND_INDEX_KEY = "dev-only-blind-index-key-change-me"
_DEV_CONTEXT_SEAL_KEY = "dev-only-context-seal-key-change-me"


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def amqp_uri() -> str:
    return env("QI_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")


def data_dir() -> Path:
    path = Path(env("QI_DATA_DIR", str(REPO_ROOT / "var")))
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url(service: str) -> str:
    specific = env(f"QI_DB_URL_{service.upper()}")
    if specific:
        return specific
    template = env("QI_DB_URL")
    if template:
        return template.replace("{service}", service)
    return f"sqlite:///{data_dir() / (service + '.db')}"


_warned: set[str] = set()


def _dev_default(name: str, value: str) -> str:
    configured = env(name)
    if configured:
        return configured
    if env("QI_ENV", "dev") == "production":
        raise RuntimeError(f"{name} must be set in production")
    if name not in _warned:
        _warned.add(name)
        logging.getLogger("qi.config").warning("%s not set: using the development default (never in production)", name)
    return value


def _key_file(name: str, dev_name: str) -> Path:
    configured = env(name)
    if configured:
        return Path(configured)
    if env("QI_ENV", "dev") == "production":
        raise RuntimeError(f"{name} must be set in production")
    return data_dir() / "keys" / dev_name


def jwt_private_key_file() -> Path:
    """Identity's signing key (PEM). In development a pair is generated once (services.common.caller)."""
    return _key_file("QI_JWT_PRIVATE_KEY_FILE", "jwt-ed25519.pem")  # name: caller.PRIVATE_KEY_NAME


def jwt_public_key_file() -> Path:
    return _key_file("QI_JWT_PUBLIC_KEY_FILE", "jwt-ed25519.pub.pem")


def dev_keys_generated() -> bool:
    """True when neither key file is configured: development keys under QI_DATA_DIR/keys may be generated."""
    return not env("QI_JWT_PRIVATE_KEY_FILE") and not env("QI_JWT_PUBLIC_KEY_FILE") and env("QI_ENV", "dev") != "production"


def revocation_reload_seconds() -> float:
    return float(env("QI_REVOCATION_RELOAD_SECONDS", "60"))


def access_token_ttl() -> int:
    return int(env("QI_ACCESS_TOKEN_TTL", "900"))


def refresh_token_ttl() -> int:
    return int(env("QI_REFRESH_TOKEN_TTL", str(14 * 24 * 3600)))


def pii_keys() -> str:
    return _dev_default("QI_PII_KEYS", _DEV_PII_KEYS)


def pii_active_kid() -> str | None:
    return env("QI_PII_ACTIVE_KID")


def blind_index_key() -> str:
    return _dev_default("QI_BLIND_INDEX_KEY", _DEV_BLIND_INDEX_KEY)


def context_seal_key() -> str:
    return _dev_default("QI_CONTEXT_SEAL_KEY", _DEV_CONTEXT_SEAL_KEY)


def rpc_timeout() -> float:
    return float(env("QI_RPC_TIMEOUT", "5"))


def rpc_deadline_margin() -> float:
    return float(env("QI_RPC_DEADLINE_MARGIN", "0.5"))


def metrics_port(service: str) -> int:
    return int(env(f"QI_METRICS_PORT_{service.upper()}", str(DEFAULT_METRICS_PORTS.get(service, 9199))))


def trusted_proxies() -> frozenset[str]:
    return frozenset(p.strip() for p in (env("QI_TRUSTED_PROXIES", "") or "").split(",") if p.strip())


def gateway_port() -> int:
    return int(env("QI_GATEWAY_PORT", "8000"))


def sla_rules_file() -> Path:
    return Path(env("QI_SLA_RULES_FILE", str(REPO_ROOT / "services/common/data/sla_rules.json")))


def calendar_dir() -> Path:
    return Path(env("QI_CALENDAR_DIR", str(REPO_ROOT / "services/common/data/calendar")))


def outbox_retention_days() -> float:
    return float(env("QI_OUTBOX_RETENTION_DAYS", "30"))


def outbox_poll_seconds() -> float:
    return float(env("QI_OUTBOX_POLL_SECONDS", "0.5"))


def event_archive_max_age() -> str:
    return env("QI_EVENT_ARCHIVE_MAX_AGE", "30D").strip()


def rabbitmqctl() -> str:
    return env("QI_RABBITMQCTL", "rabbitmqctl")
