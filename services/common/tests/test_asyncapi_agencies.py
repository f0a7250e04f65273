"""docs/asyncapi.yaml and README say what the code does about agency accounts and the archive."""
from __future__ import annotations

import re

import pytest

from services.common import agencies, archive, config, contracts

README = (config.REPO_ROOT / "README.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def doc():
    contracts.clear_cache()
    return contracts.load_asyncapi()


def _text(node) -> str:
    return " ".join(node.split())


def test_description_states_the_archive_rule_and_replay(doc):
    text = _text(doc["info"]["description"])
    for needle in (archive.ARCHIVE_QUEUE, "stream", "x-stream-offset", "QI_EVENT_ARCHIVE_MAX_AGE", "30 days",
                   "routable from the moment it is written", "basic.qos", "归档", "回放"):
        assert needle in text, needle
    assert config.event_archive_max_age() == "30D"   # the documented default


def test_description_states_the_account_and_its_limits(doc):
    text = _text(doc["info"]["description"])
    for needle in ("agency.<name>", "python -m services.common.agencies add", "ACCESS_REFUSED", "nameko-rpc",
                   "passive", "账号"):
        assert needle in text, needle
    security = _text(doc["components"]["securitySchemes"]["agencyAccount"]["description"])
    assert "agency.<name>" in security and archive.ARCHIVE_QUEUE in security
    assert archive.ARCHIVE_QUEUE in _text(doc["servers"]["production"]["description"])


def test_example_subscribers_use_names_an_agency_account_may_use(doc):
    text = doc["info"]["description"]
    perms = agencies.permissions("x-lab")
    users = set(re.findall(r"amqp://([^:]+):", text))
    assert users == {agencies.user_name("x-lab")}
    queues = set(re.findall(r"[\"'](agency\.[^\"']+)[\"']", text))
    assert queues
    for queue in queues:
        assert re.search(perms.configure, queue) and re.search(perms.read, queue), queue
    assert re.search(perms.read, archive.ARCHIVE_QUEUE)
    # exchanges are only ever declared passively in the examples (no configure permission)
    assert "auto_delete=False)" not in text.split("Exchange(")[1].split("\n")[0]
    assert "passive=True" in text


def test_readme_says_the_same():
    text = _text(README)
    for needle in ("For agencies: how to get broker credentials", "python -m services.common.agencies add",
                   archive.ARCHIVE_QUEUE, "x-stream-offset", "QI_EVENT_ARCHIVE_MAX_AGE", "misconfiguration"):
        assert needle in text, needle
    assert "no queue is bound for yet is kept" not in text   # the old rule
