#!/bin/sh
# Entrypoint of the compose RabbitMQ: seeds the platform's broker user from the environment,
# then hands over to the image's own entrypoint (which drops root and starts the node).
#
# RabbitMQ creates its default user only on a node's first boot (empty database), and then
# does not create guest. The password comes from QI_AMQP_PASSWORD (required: docker-compose.yml
# refuses to start without it); it is written to a conf.d file readable by the broker only,
# never into the image or this repository. To change it later: `docker compose exec rabbitmq
# rabbitmqctl change_password qi-platform` (reads the new one on stdin), then update
# QI_AMQP_PASSWORD and restart the services.
set -eu
CONF_DIR="${QI_RABBITMQ_CONF_DIR:-/etc/rabbitmq/conf.d}"
user="${QI_AMQP_USER:-qi-platform}"
password="${QI_AMQP_PASSWORD:-}"
if [ -z "$password" ]; then
    echo "QI_AMQP_PASSWORD is not set: refusing to start a broker without the platform user's password" >&2
    exit 1
fi
case "$password$user" in
    *[!A-Za-z0-9_-]*)
        # The same password sits unescaped in QI_AMQP_URI and in a rabbitmq.conf line.
        echo "QI_AMQP_PASSWORD/QI_AMQP_USER: use letters, digits, '-' and '_' only (e.g. openssl rand -hex 24)" >&2
        exit 1;;
esac
if [ "${#password}" -lt 16 ]; then
    echo "QI_AMQP_PASSWORD: at least 16 characters" >&2
    exit 1
fi
file="$CONF_DIR/30-qi-platform-user.conf"
(umask 077 && printf 'default_user = %s\ndefault_pass = %s\n' "$user" "$password" > "$file")
if id rabbitmq >/dev/null 2>&1; then
    chown rabbitmq:rabbitmq "$file"
fi
rabbitmq-plugins enable --offline rabbitmq_prometheus
exec docker-entrypoint.sh "$@"
