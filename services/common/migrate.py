"""Alembic migrations, one history per service database.

Each service database carries two Alembic branches: `common` (outbox, processed
events, idempotency keys, SLA clocks, audit log: services/common/migrations/versions)
and the service's own (services/<service>/migrations). `upgrade` applies both heads.

Reference data (what a fresh deployment needs to work at all, e.g. the registry's
service catalogue) is not demo data: after the schema is up, `upgrade` calls
`services.<service>.reference.load(db)` if the service has one. A loader must be
idempotent and must not overwrite what operators changed, because it runs on
every migration, not just the first.

    python -m services.common.migrate identity registry ...   # or: all
"""
from __future__ import annotations

import argparse
import importlib

from alembic import command
from alembic.config import Config

from . import config, platform
from .db import Database, make_engine

COMMON_DIR = config.REPO_ROOT / "services" / "common" / "migrations"
SERVICES_WITH_DB = platform.with_database()


def service_metadata(service: str):
    """The service's own metadata (for autogenerate); common tables come with CommonBase."""
    models = importlib.import_module(f"services.{service}.models")
    return models.Base.metadata


def alembic_config(service: str, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(COMMON_DIR))
    service_dir = config.REPO_ROOT / "services" / service / "migrations"
    cfg.set_main_option("version_locations", f"{COMMON_DIR / 'versions'} {service_dir}")
    cfg.set_main_option("path_separator", "space")
    cfg.set_main_option("sqlalchemy.url", (url or config.database_url(service)).replace("%", "%%"))
    cfg.attributes["service"] = service
    return cfg


def upgrade(service: str, url: str | None = None):
    """Apply both heads, then the service's reference data; returns the loader's summary (or None)."""
    command.upgrade(alembic_config(service, url), "heads")
    return load_reference(service, url)


def load_reference(service: str, url: str | None = None):
    module_name = f"services.{service}.reference"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only "this service has no reference module" is normal; a module that
        # exists but fails to import its own dependencies must not be hidden.
        if exc.name != module_name:
            raise
        return None
    loader = getattr(module, "load", None)
    if loader is None:
        return None
    db = Database(make_engine(url or config.database_url(service)))
    try:
        return loader(db)
    finally:
        db.engine.dispose()


def available_services() -> list[str]:
    return [s for s in SERVICES_WITH_DB if (config.REPO_ROOT / "services" / s / "migrations").is_dir()]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("services", nargs="+", help="service names or 'all'")
    args = parser.parse_args(argv)
    services = available_services() if args.services == ["all"] else args.services
    for service in services:
        reference = upgrade(service)
        print(f"migrated {service}: {config.database_url(service).split('@')[-1]}"
              + (f" (reference data: {reference})" if reference is not None else ""))


if __name__ == "__main__":
    main()
