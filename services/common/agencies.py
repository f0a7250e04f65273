"""Broker accounts for other agencies: `python -m services.common.agencies add|list|remove|rotate`.

An agency subscribes to the platform's events (docs/asyncapi.yaml) with its own
RabbitMQ user `agency.<name>`, whose permissions on the platform's vhost are

- configure and write: only its own queues (and exchanges) `agency.<name>.*`;
  write on a queue is what `queue.bind` needs, so it binds only its own queues;
- read: the `*.events` exchanges (binding to them), its own queues (consuming)
  and the event archive stream (replay from a point in time).

So it cannot publish to or bind to `nameko-rpc` (no write there, no read there),
cannot publish through the default exchange (no write on `amq.default`), cannot
dead-letter into another exchange, cannot touch another agency's queues, cannot
delete or redeclare the platform's exchanges, and has no permission on any other
vhost. It gets no user tags, so no management UI either.

The broker is driven with `rabbitmqctl` (QI_RABBITMQCTL, e.g.
`docker compose exec -T rabbitmq rabbitmqctl` for the compose topology); passwords
go over stdin, never on a command line. A generated password is printed once.
"""
from __future__ import annotations

import argparse
import json
import re
import secrets
import shlex
import subprocess
import sys
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from . import config
from .archive import ARCHIVE_QUEUE

USER_PREFIX = "agency."
# Lowercase letters, digits and inner hyphens; no dot, so `agency.<name>.` can never
# be the prefix of another agency's names. Length keeps queue names readable.
NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
EVENTS_EXCHANGES = r"[a-z0-9_-]+\.events"


class AgencyError(Exception):
    """A refusal the operator can act on (bad name, exists, missing, broker error)."""


@dataclass(frozen=True)
class Permissions:
    configure: str
    write: str
    read: str


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise AgencyError(f"agency name {name!r}: use 1-40 lowercase letters, digits and inner hyphens (e.g. tz-metrology)")
    return name


def user_name(name: str) -> str:
    return USER_PREFIX + validate_name(name)


def permissions(name: str) -> Permissions:
    """The three RabbitMQ permission regexes of one agency (anchored: RabbitMQ matches unanchored)."""
    own = r"agency\." + validate_name(name) + r"\..+"   # the name has no regex metacharacters
    archive = re.escape(ARCHIVE_QUEUE)
    return Permissions(configure=f"^{own}$", write=f"^{own}$",
                       read=f"^(?:{EVENTS_EXCHANGES}|{archive}|{own})$")


def platform_vhost(amqp_uri: str | None = None) -> str:
    """The vhost of the platform's own QI_AMQP_URI (`/` when the URI names none)."""
    path = urlparse(amqp_uri or config.amqp_uri()).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def new_password() -> str:
    return secrets.token_urlsafe(24)   # 32 URL-safe characters: fits an AMQP URI unescaped


class Broker:
    """The few rabbitmqctl commands this needs."""

    def __init__(self, command: str | None = None):
        self.command = shlex.split(command or config.rabbitmqctl())

    def run(self, *args: str, stdin: str | None = None) -> str:
        try:
            done = subprocess.run([*self.command, "-q", *args], input=stdin, capture_output=True, text=True,
                                  timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise AgencyError(f"cannot run {' '.join(self.command)}: {exc}") from exc
        if done.returncode != 0:
            raise AgencyError(f"rabbitmqctl {args[0]} failed: {(done.stderr or done.stdout).strip()}")
        return done.stdout

    def users(self) -> dict[str, list[str]]:
        return {u["user"]: u["tags"] for u in json.loads(self.run("list_users", "--formatter", "json") or "[]")}

    def user_permissions(self, user: str) -> list[dict]:
        return json.loads(self.run("list_user_permissions", user, "--formatter", "json") or "[]")


def add(name: str, vhost: str, broker: Broker | None = None) -> str:
    """Create `agency.<name>` with its permissions on `vhost`; returns the generated password."""
    broker = broker or Broker()
    user = user_name(name)
    if user in broker.users():
        raise AgencyError(f"{user} exists; use `rotate {name}` for a new password")
    password = new_password()
    broker.run("add_user", user, stdin=password + "\n")
    try:
        perms = permissions(name)
        broker.run("set_permissions", "-p", vhost, user, perms.configure, perms.write, perms.read)
    except AgencyError:
        broker.run("delete_user", user)   # no half-made account left behind
        raise
    return password


def _close_connections(broker: Broker, user: str, why: str) -> None:
    broker.run("close_all_user_connections", user, why)


def rotate(name: str, broker: Broker | None = None, close_connections: bool = False) -> str:
    """A new password. Open connections keep working unless `close_connections` (a leaked password)."""
    broker = broker or Broker()
    user = user_name(name)
    if user not in broker.users():
        raise AgencyError(f"{user} does not exist")
    password = new_password()
    broker.run("change_password", user, stdin=password + "\n")
    if close_connections:
        _close_connections(broker, user, "password rotated by the platform")
    return password


def remove(name: str, broker: Broker | None = None) -> None:
    """Delete the user and end its open connections at once (its queues stay for the operator)."""
    broker = broker or Broker()
    user = user_name(name)
    if user not in broker.users():
        raise AgencyError(f"{user} does not exist")
    broker.run("delete_user", user)
    _close_connections(broker, user, "agency account removed by the platform")


def list_agencies(broker: Broker | None = None) -> list[dict]:
    broker = broker or Broker()
    return [{"user": user, "permissions": broker.user_permissions(user)}
            for user in sorted(broker.users()) if user.startswith(USER_PREFIX)]


def _print_credentials(user: str, password: str, vhost: str) -> None:
    print(f"user:     {user}")
    print(f"password: {password}")
    print(f"vhost:    {vhost}")
    print("Hand these to the agency over a secure channel now: the password is not stored or shown again.")
    print(f"Its queues must be named {user}.<anything>; see docs/asyncapi.yaml.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.common.agencies",
                                     description="Broker accounts for agencies that subscribe to the platform's events.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_add = sub.add_parser("add", help="create agency.NAME and print its password once")
    p_add.add_argument("name")
    p_add.add_argument("--vhost", default=None, help="platform vhost (default: the vhost of QI_AMQP_URI)")
    sub.add_parser("list", help="agency users and their permissions")
    p_remove = sub.add_parser("remove", help="delete agency.NAME (its queues stay until deleted)")
    p_remove.add_argument("name")
    p_rotate = sub.add_parser("rotate", help="give agency.NAME a new password, printed once")
    p_rotate.add_argument("name")
    p_rotate.add_argument("--close-connections", action="store_true",
                          help="also end the connections opened with the old password (when it leaked)")
    args = parser.parse_args(argv)
    try:
        if args.command == "add":
            vhost = args.vhost or platform_vhost()
            _print_credentials(user_name(args.name), add(args.name, vhost), vhost)
        elif args.command == "rotate":
            password = rotate(args.name, close_connections=args.close_connections)
            print(f"user:     {user_name(args.name)}\npassword: {password}")
            print("The old password no longer opens connections"
                  + ("; its open connections were closed." if args.close_connections else
                     " (open ones continue; --close-connections ends them).") + " The password is not shown again.")
        elif args.command == "remove":
            remove(args.name)
            print(f"removed {user_name(args.name)}")
        else:
            for entry in list_agencies():
                perms = "; ".join(f"{p['vhost']}: configure={p['configure']} write={p['write']} read={p['read']}"
                                  for p in entry["permissions"]) or "no permissions"
                print(f"{entry['user']}\t{perms}")
    except AgencyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
