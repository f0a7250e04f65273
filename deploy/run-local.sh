#!/usr/bin/env bash
# README's run command: install, migrate, start every service and the gateway
# against the machine's RabbitMQ (SQLite files by default), load demo data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh
bash deploy/build-web.sh   # the web UI (web/dist), rebuilt only when web/src or the lock file changed
echo "web UI (中文 by default): http://127.0.0.1:${QI_GATEWAY_PORT:-8000}/"
exec .venv/bin/python -m deploy.local "$@"
