"""Load the demo data set of every service (idempotent: safe to run twice).

Each service seeds its own database through its own domain code, so demo
records raise the same events real ones do.
"""
from __future__ import annotations

import importlib

from services.common.db import Database, engine_for
from services.common.migrate import available_services


def main() -> None:
    for service in available_services():
        try:
            demo = importlib.import_module(f"services.{service}.demo")
        except ModuleNotFoundError:
            continue
        db = Database(engine_for(service))
        summary = demo.seed(db)
        db.engine.dispose()
        print(f"demo data loaded for {service}: {summary or 'ok'}")


if __name__ == "__main__":
    main()
