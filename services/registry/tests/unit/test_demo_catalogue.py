"""Demo data speaks the catalogue's language (issue 8 point 12): every item code the demo
uses, for capabilities and window services, is a catalogue item, and a capability's
category is its item's category. The demo seeds through `create_institution`, which
does not run the applicant's item check, so nothing else would notice a stray code."""
import json

from sqlalchemy import select

from services.registry import catalogue, demo
from services.registry.models import Capability, CatalogItem, Window


def _catalogue_items() -> dict[str, str]:
    doc = catalogue.load_file()
    return {item["code"]: cat["code"] for cat in doc["categories"] for item in cat["items"]}


def test_every_item_code_in_the_demo_data_is_in_the_catalogue_file():
    items = _catalogue_items()
    capabilities = [cap for *_, caps in demo._all_institutions() for cap in caps]
    assert capabilities
    unknown = sorted({c["item_code"] for c in capabilities} - set(items))
    assert unknown == [], f"demo capabilities use item codes missing from catalogue.json: {unknown}"
    wrong_category = sorted({(c["item_code"], c["category"]) for c in capabilities
                             if c["category"] != items[c["item_code"]]})
    assert wrong_category == [], wrong_category
    window_services = {code for w in demo.WINDOWS for code in w["services"]} | {"tst.matching"}
    assert sorted(window_services - set(items)) == []


def test_the_seeded_demo_references_only_catalogue_items(db):
    demo.seed(db)
    with db.read() as session:
        items = dict(session.execute(select(CatalogItem.code, CatalogItem.category_code)).all())
        capabilities = session.execute(select(Capability.item_code, Capability.category)).all()
        window_services = [json.loads(w.services) for w in session.scalars(select(Window))]
    assert capabilities and window_services
    assert sorted({(code, cat) for code, cat in capabilities if items.get(code) != cat}) == []
    assert sorted({code for services in window_services for code in services} - set(items)) == []


def test_the_demo_has_upcoming_trainings_once_even_when_seeded_twice(db):
    from services.registry import training
    from services.registry.models import TrainingEvent
    demo.seed(db)
    second = demo.seed(db)
    assert second["trainings"] == 0, "a second seed adds no training while the first ones are upcoming"
    with db.read() as session:
        listed = training.list_upcoming(session)
        events = session.scalars(select(TrainingEvent)).all()
    assert sorted(e.title for e in events) == sorted(t["title"] for t in demo.TRAININGS)
    assert {e.qualification_code for e in events} >= {"icpms-operation", "hplc-operation"}
    assert len(listed["items"]) == len(demo.TRAININGS)   # upcoming: the public list shows them


def test_a_demo_training_past_the_loaded_calendar_falls_on_a_weekday():
    import datetime as dt
    # 2026-12-28 is a Monday; 2027's notice is not loaded: 8 weekdays on is Thursday 2027-01-07.
    assert demo._training_day(dt.date(2026, 12, 28), 8) == dt.date(2027, 1, 7)
    assert demo._training_day(dt.date(2026, 12, 1), 5) == dt.date(2026, 12, 8)
