"""Interface fixtures: the platform's own (tests/conftest.py): a RabbitMQ vhost per run and fresh
SQLite / PostgreSQL databases, parametrised over both backends."""
from tests.conftest import amqp_uri, backend, database_url, pg_databases  # noqa: F401
