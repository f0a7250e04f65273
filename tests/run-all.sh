#!/usr/bin/env bash
# README's test command (and CI's): unit, integration (real RabbitMQ, SQLite and
# PostgreSQL) and end-to-end tests through the gateway, in one pytest run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh --services
exec .venv/bin/python -m pytest "$@"
