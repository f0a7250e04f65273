"""Supervision rules (6.5.1): who handles which complaint type, its reply limit and escalation.

Data that operators edit (PUT /supervision-rules/<type>); every change is kept as
a version (supervision_rule_version) and audited. The defaults come from
data/feedback.json, loaded by `reference.load` after each migration, never
overwriting what operators changed.
"""
from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.audit import audit
from services.common.errors import NotFound

from .common import iso, now
from .contract.vocabulary import settings
from .models import SupervisionRule, SupervisionRuleVersion

# reply_working_days: the reply limit of the type in working days; None: the SLA rule's (sla_rules.json).
FIELDS = ("handler_role", "reply_rule", "reply_working_days", "escalate_to", "escalate_after_working_days")


def _body(rule: SupervisionRule) -> dict:
    return {"complaint_type": rule.complaint_type, **{f: getattr(rule, f) for f in FIELDS}, "version": rule.version}


def ensure_defaults(session: Session) -> int:
    added = 0
    for spec in settings()["supervision_rules"]:
        if session.get(SupervisionRule, spec["complaint_type"]) is None:
            rule = SupervisionRule(complaint_type=spec["complaint_type"], **{f: spec.get(f) for f in FIELDS}, version=1,
                                   updated_at=now(), updated_by="system")
            session.add(rule)
            session.add(SupervisionRuleVersion(complaint_type=rule.complaint_type, version=1,
                                               body=json.dumps(_body(rule)), changed_by="system", changed_at=now()))
            added += 1
    session.flush()
    return added


def list_rules(session: Session) -> list[SupervisionRule]:
    return list(session.scalars(select(SupervisionRule).order_by(SupervisionRule.complaint_type)))


def rule_for(session: Session, complaint_type: str) -> SupervisionRule | None:
    return session.get(SupervisionRule, complaint_type)


def put_rule(session: Session, principal: dict, complaint_type: str, data: dict) -> SupervisionRule:
    rule = session.get(SupervisionRule, complaint_type, with_for_update=True)
    if rule is None:
        raise NotFound("No rule for this complaint type / 无此投诉类型的规则", code="rule_not_found")
    before = _body(rule)
    for f in FIELDS:
        setattr(rule, f, data.get(f))
    rule.version += 1
    rule.updated_at = now()
    rule.updated_by = str(principal["user_id"])
    session.add(SupervisionRuleVersion(complaint_type=complaint_type, version=rule.version,
                                       body=json.dumps(_body(rule)), changed_by=rule.updated_by,
                                       changed_at=rule.updated_at))
    audit(session, principal, "supervision_rule.changed", "supervision_rule", complaint_type,
          detail={"before": before, "after": _body(rule)})
    session.flush()
    return rule


def history(session: Session, complaint_type: str) -> list[dict]:
    rows = list(session.scalars(select(SupervisionRuleVersion).where(
        SupervisionRuleVersion.complaint_type == complaint_type).order_by(SupervisionRuleVersion.seq)))
    if not rows:
        raise NotFound("No rule for this complaint type / 无此投诉类型的规则", code="rule_not_found")
    return [{"complaint_type": r.complaint_type, "version": r.version, "body": json.loads(r.body),
             "changed_by": r.changed_by, "changed_at": iso(r.changed_at)} for r in rows]
