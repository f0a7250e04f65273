"""Vocabularies of the feedback service (the models import them from here)."""
from __future__ import annotations

import functools
import json
from pathlib import Path

from services.common.evaluation import SERVICE_TYPES  # noqa: F401  (what can be evaluated)

DATA_FILE = Path(__file__).resolve().parents[1] / "data" / "feedback.json"

# The national five-level scale (好差评), best first; the score is 5..1.
RATINGS = ("very_satisfied", "satisfied", "basic", "dissatisfied", "very_dissatisfied")
RATING_ZH = {"very_satisfied": "非常满意", "satisfied": "满意", "basic": "基本满意",
             "dissatisfied": "不满意", "very_dissatisfied": "非常不满意"}
SCORE = {"very_satisfied": 5, "satisfied": 4, "basic": 3, "dissatisfied": 2, "very_dissatisfied": 1}
SATISFIED = ("very_satisfied", "satisfied", "basic")      # counted as satisfied (满意率)
DISSATISFIED = ("dissatisfied", "very_dissatisfied")      # need reasons, open a rectification
DIMENSIONS = ("process", "efficiency", "attitude")        # 7.1.1

EVALUATION_STATES = ("invited", "submitted", "expired")
# How the rating reached the platform: the customer online, or staff entering a phone/SMS answer.
CHANNELS = ("web", "app", "phone", "sms")
STAFF_CHANNELS = ("phone", "sms")
# 7.1.2 methods besides the customer's own rating.
ASSESSMENT_METHODS = ("self", "third_party")

RECTIFICATION_STATES = ("opened", "verified", "appealed", "rectified", "explained", "rechecked", "called_back",
                        "closed", "overturned")
RECTIFICATION_ACTIONS = ("verify", "rectify", "explain", "appeal", "decide_appeal", "recheck", "call_back", "close")

COMPLAINT_CHANNELS = ("phone", "web", "window", "letter")
COMPLAINT_STATES = ("received", "accepted", "investigated", "forwarded", "returned", "answered", "decided", "told",
                    "closed", "merged")
COMPLAINT_ACTIONS = ("accept", "investigate", "forward", "answer", "return", "decide_return", "decide", "tell",
                     "satisfaction", "pause", "resume", "merge")
COMPLAINT_OUTCOMES = ("upheld", "partly_upheld", "not_upheld")
LINK_TYPES = ("demand", "booking", "sample", "report")


@functools.lru_cache(maxsize=1)
def settings() -> dict:
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


def reason_tags() -> tuple[str, ...]:
    return tuple(settings()["evaluation"]["reason_tags"])


def complaint_types() -> tuple[str, ...]:
    return tuple(t["code"] for t in settings()["complaint_types"])


def weights() -> dict:
    return dict(settings()["evaluation"]["weights"])

CALLBACK_REASONS = ("dissatisfied", "complaint", "sample")
CALLBACK_STATES = ("open", "done")
CALLBACK_OUTCOMES = ("reached", "unreachable", "reopened")
# What staff record for one call: reached, no answer (a try; the 3rd makes it unreachable), reopen the case.
CALLBACK_ATTEMPTS = ("reached", "no_answer", "reopen")
SUPPORT_STATES = ("open", "answered", "resolved")
IMPROVEMENT_KINDS = ("plan_item", "assessment")
IMPROVEMENT_SOURCES = ("statistics", "complaint", "callback", "joint")
IMPROVEMENT_STATES = ("open", "done", "rechecked")


def support_categories() -> tuple[str, ...]:
    return tuple(settings()["support_categories"])


def callback_script(reason: str) -> list[str]:
    return list(settings()["callbacks"]["scripts"].get(reason, []))


def max_callback_tries() -> int:
    return int(settings()["callbacks"].get("max_tries", 3))
