#!/usr/bin/env bash
# README's run command: install, migrate, start every service and the gateway
# against the machine's RabbitMQ (SQLite files by default), load demo data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh
exec .venv/bin/python -m deploy.local "$@"
