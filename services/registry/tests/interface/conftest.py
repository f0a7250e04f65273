"""Interface fixtures: the broker vhost and PostgreSQL databases of the shared test fixtures."""
from tests.conftest import amqp_uri, pg_databases  # noqa: F401 (fixtures)
