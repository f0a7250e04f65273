-- One database per service: no service can read another's tables.
CREATE DATABASE identity;
CREATE DATABASE registry;
CREATE DATABASE matching;
CREATE DATABASE booking;
CREATE DATABASE feedback;
CREATE DATABASE delivery;
