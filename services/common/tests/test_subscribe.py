"""services.common.nameko_ext.subscribe: event handlers declared as data."""
from __future__ import annotations

import pytest
from nameko.events import EventHandler

from services.common.nameko_ext import subscribe


def _toy():
    class Toy:
        name = "toy"
        seen: list = []
    return Toy


def test_each_entry_becomes_a_named_event_handler_calling_apply():
    Toy = _toy()
    subscribe(Toy, {"on_a": ("registry", "a.happened"), "on_b": ("matching", "b.happened")},
              lambda service, name, envelope: service.seen.append((name, envelope["id"])))
    handlers = {name: next(iter(getattr(Toy, name).nameko_entrypoints)) for name in ("on_a", "on_b")}
    assert all(isinstance(h, EventHandler) for h in handlers.values())
    assert (handlers["on_a"].source_service, handlers["on_a"].event_type) == ("registry", "a.happened")
    assert (handlers["on_b"].source_service, handlers["on_b"].event_type) == ("matching", "b.happened")
    Toy().on_b({"id": "e1"})
    assert Toy.seen == [("on_b", "e1")]
    assert Toy.on_a.__name__ == "on_a"     # the consumer's identity (queue, parking, processed key)


def test_a_hand_written_handler_of_the_same_name_is_refused():
    Toy = _toy()
    Toy.on_a = lambda self, envelope: None
    with pytest.raises(TypeError):
        subscribe(Toy, {"on_a": ("registry", "a.happened")}, lambda *a: None)
