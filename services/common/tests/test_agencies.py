"""The agency account command without a broker: names, permission regexes, passwords."""
from __future__ import annotations

import re

import pytest

from services.common import agencies
from services.common.agencies import AgencyError


def allowed(pattern: str, resource: str) -> bool:
    # RabbitMQ matches a permission with re:run, unanchored: the anchors must be in the pattern.
    return re.search(pattern, resource) is not None


@pytest.mark.parametrize("name", ["tz-metrology", "a", "sme2", "x" * 40, "a-b-c"])
def test_valid_names(name):
    assert agencies.user_name(name) == f"agency.{name}"


@pytest.mark.parametrize("name", ["", "Upper", "under_score", "dot.ted", "-lead", "trail-", "x" * 41,
                                  "sp ace", "a.*", "汉字", "a$", None])
def test_invalid_names(name):
    with pytest.raises(AgencyError):
        agencies.user_name(name)


def test_configure_and_write_only_own_queues():
    perms = agencies.permissions("tz-lab")
    for pattern in (perms.configure, perms.write):
        for ok in ("agency.tz-lab.q", "agency.tz-lab.registry", "agency.tz-lab.a.b"):
            assert allowed(pattern, ok), ok
        for refused in ("nameko-rpc", "amq.default", "registry.events", "qi.event-archive", "rpc-registry",
                        "agency.tz-lab", "agency.tz-lab.", "agency.tz-labx.q", "agency.tz.q", "agency.other.q",
                        "xagency.tz-lab.q", "evt-registry-institution.approved--matching.on_institution_approved",
                        "agency.tz-lab.q\nnameko-rpc"):
            assert not allowed(pattern, refused), refused


def test_read_events_exchanges_archive_and_own_queues():
    read = agencies.permissions("tz-lab").read
    for ok in ("registry.events", "identity.events", "matching.events", "booking.events", "qi.event-archive",
               "agency.tz-lab.q"):
        assert allowed(read, ok), ok
    for refused in ("nameko-rpc", "rpc-registry", "amq.default", "amq.topic", "registry.events.x",
                    "x.registry.events", "agency.other.q", "agency.tz-labx.q", "qi.event-archiveX",
                    "qiXevent-archive", "evt-registry-institution.approved--matching.on_institution_approved",
                    "events", ".events"):
        assert not allowed(read, refused), refused


def test_one_agencys_patterns_never_cover_another():
    # "tz" must not reach "tz-lab"'s queues and vice versa: the dot after the name is literal.
    for a, b in (("tz", "tz-lab"), ("tz-lab", "tz")):
        assert not allowed(agencies.permissions(a).configure, f"agency.{b}.q")


@pytest.mark.parametrize("uri,vhost", [("amqp://u:p@h:5672/", "/"), ("amqp://u:p@h:5672", "/"),
                                       ("amqp://u:p@h:5672/%2F", "/"), ("amqp://u:p@h/qi-prod", "qi-prod"),
                                       ("amqps://u:p@h:5671/qi%2Fa", "qi/a")])
def test_platform_vhost(uri, vhost):
    assert agencies.platform_vhost(uri) == vhost


class FakeBroker(agencies.Broker):
    def __init__(self, fail_on=None):
        self.calls = []
        self.existing = {"guest": ["administrator"]}
        self.fail_on = fail_on

    def run(self, *args, stdin=None):
        self.calls.append((args, stdin))
        if args[0] == self.fail_on:
            raise AgencyError(f"{args[0]} failed")
        if args[0] == "add_user":
            self.existing[args[1]] = []
        if args[0] == "delete_user":
            self.existing.pop(args[1])
        return ""

    def users(self):
        return dict(self.existing)


def test_add_passes_the_password_on_stdin_and_sets_three_regexes():
    broker = FakeBroker()
    password = agencies.add("tz-lab", "qi", broker)
    assert len(password) >= 32
    (add_args, add_stdin), (perm_args, _) = broker.calls
    assert add_args == ("add_user", "agency.tz-lab") and add_stdin == password + "\n"
    assert all(password not in " ".join(args) for args, _ in broker.calls)   # never on a command line
    p = agencies.permissions("tz-lab")
    assert perm_args == ("set_permissions", "-p", "qi", "agency.tz-lab", p.configure, p.write, p.read)
    assert agencies.add("tz-lab2", "qi", FakeBroker()) != password


def test_add_rolls_back_when_permissions_fail_and_refuses_existing():
    broker = FakeBroker(fail_on="set_permissions")
    with pytest.raises(AgencyError):
        agencies.add("tz-lab", "qi", broker)
    assert "agency.tz-lab" not in broker.existing
    broker = FakeBroker()
    agencies.add("tz-lab", "qi", broker)
    with pytest.raises(AgencyError, match="rotate"):
        agencies.add("tz-lab", "qi", broker)
    with pytest.raises(AgencyError, match="does not exist"):
        agencies.rotate("nobody", broker)


def test_remove_ends_open_connections_and_rotate_only_when_asked():
    broker = FakeBroker()
    agencies.add("tz-lab", "qi", broker)
    agencies.rotate("tz-lab", broker)
    assert not any(args[0] == "close_all_user_connections" for args, _ in broker.calls)
    agencies.rotate("tz-lab", broker, close_connections=True)
    assert broker.calls[-1][0][:2] == ("close_all_user_connections", "agency.tz-lab")
    agencies.remove("tz-lab", broker)
    assert [args[:2] for args, _ in broker.calls[-2:]] == [("delete_user", "agency.tz-lab"),
                                                          ("close_all_user_connections", "agency.tz-lab")]
    with pytest.raises(AgencyError, match="does not exist"):
        agencies.remove("tz-lab", broker)

