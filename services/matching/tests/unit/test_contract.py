"""Matching's contract: free of storage and transport, every event type matches docs/asyncapi.yaml."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

from services.common import contracts
from services.matching.contract import CONTRACT

CONTRACT_DIR = Path(__file__).resolve().parents[2] / "contract"


def test_the_contract_imports_no_models_sqlalchemy_or_nameko():
    for path in CONTRACT_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for name in names:
                    assert not name.startswith(("sqlalchemy", "nameko")) and "models" not in name, (path.name, name)
    # Loaded, it brings no ORM and no text segmentation (the gateway imports it).
    code = ("import sys, services.matching.contract; "
            "print(sorted(m for m in sys.modules if m.startswith(('sqlalchemy', 'jieba')) or m.endswith('.models')))")
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.fixture(scope="module")
def asyncapi():
    contracts.clear_cache()
    return contracts.load_asyncapi()


@pytest.mark.parametrize("event", CONTRACT.events, ids=lambda e: e.type)
def test_each_event_payload_is_the_documented_one(asyncapi, event):
    # A type every service publishes (sla.clock_closed) has one example per publisher: matching's.
    [example] = [e for e in contracts.examples(event.type) if e["source"] == "matching"]
    assert event.payload().validate(example["data"]) == {}
    name = "".join(part.capitalize() for part in event.type.replace(".", "_").split("_")) + "Data"
    documented = asyncapi["components"]["schemas"][name]
    assert set(documented["required"]) == {n for n, f in event.payload._declared_fields.items() if f.required}
    assert set(documented["properties"]) == set(event.payload._declared_fields)


def test_every_documented_matching_event_is_declared(asyncapi):
    documented = {m["name"] for m in asyncapi["components"]["messages"].values()
                  if m["name"].startswith(("demand.", "package."))}
    assert documented == {e.type for e in CONTRACT.events} - {"sla.clock_closed"}
