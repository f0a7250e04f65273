"""Alembic environment shared by every service (see services/common/migrate.py)."""
from alembic import context
from sqlalchemy import pool

from services.common.db import CommonBase, make_engine
from services.common.migrate import service_metadata

cfg = context.config
service = cfg.attributes["service"]
target_metadata = [CommonBase.metadata, service_metadata(service)]
url = cfg.get_main_option("sqlalchemy.url")


def run_migrations_offline():
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=url.startswith("sqlite"))
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
