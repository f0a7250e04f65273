-- One database per service: no service can read another's tables. One line per service of
-- services/common/platform.py with a database (services/common/tests/test_platform_declaration.py).
CREATE DATABASE identity;
CREATE DATABASE registry;
CREATE DATABASE matching;
CREATE DATABASE booking;
CREATE DATABASE feedback;
CREATE DATABASE delivery;
