#!/usr/bin/env bash
# Shared setup for the run and test commands: a virtualenv with the pinned
# dependencies, and (with --services) the local RabbitMQ/PostgreSQL started if down.
# Idempotent: a second run with unchanged requirements.txt installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
want=$(cat requirements.txt constraints.txt | sha256sum | cut -d' ' -f1)
have=$(cat .venv/.requirements.sha256 2>/dev/null || true)
if [ "$want" != "$have" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
  echo "$want" > .venv/.requirements.sha256
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if [ "${1:-}" = "--services" ]; then
  if ! port_open 5672 && command -v rabbitmq-server >/dev/null; then
    echo "starting RabbitMQ ..."; rabbitmq-server -detached || true
    for _ in $(seq 1 60); do port_open 5672 && break; sleep 1; done
  fi
  if ! port_open 5432 && command -v pg_ctlcluster >/dev/null; then
    echo "starting PostgreSQL ..."
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 1 30); do port_open 5432 && break; sleep 1; done
  fi
  # Wait until RabbitMQ accepts AMQP logins, not just TCP.
  for _ in $(seq 1 30); do
    .venv/bin/python -c "from deploy.local import broker_problem; import sys; from services.common import config; sys.exit(1 if broker_problem(config.amqp_uri()) else 0)" 2>/dev/null && break
    sleep 1
  done
fi
