"""Callbacks (6.4.2): every dissatisfied evaluation, every closed complaint and a random share
of the rest (data/feedback.json) become callback tasks for staff."""
from __future__ import annotations

import random

from sqlalchemy.orm import Session

from .contract.vocabulary import DISSATISFIED, settings
from .models import Callback, Evaluation


def _share() -> float:
    return float(settings()["callbacks"].get("random_share", 0))


def plan_for_evaluation(session: Session, evaluation: Evaluation, rng=random.random) -> Callback | None:
    if evaluation.overall in DISSATISFIED:
        reason = "dissatisfied"
    elif rng() < _share():
        reason = "sample"
    else:
        return None
    task = Callback(subject_type="evaluation", subject_id=evaluation.id, reason=reason,
                    enterprise_id=evaluation.enterprise_id, institution_id=evaluation.institution_id, state="open",
                    tries=0)
    session.add(task)
    session.flush()
    return task


def plan_for_complaint(session: Session, complaint) -> Callback:
    task = Callback(subject_type="complaint", subject_id=complaint.id, reason="complaint",
                    enterprise_id=complaint.complainant_id, institution_id=complaint.institution_id, state="open",
                    tries=0)
    session.add(task)
    session.flush()
    return task
