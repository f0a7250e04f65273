"""Feedback demo data: a quarter (2026-Q3) of evaluations with mixed ratings, the rectification
of every bad review, complaints at every stage, and the published 2026-Q3 statistics whose
public page answers without login.

Everything goes through the domain code, so the demo raises the events real use raises.
The institutions are the registry demo's: their ids are the registry's stable ids
(uuid5 of the demo USCC, services/registry/demo.py), computed here the same way; no
registry table is read. Idempotent: a published 2026-Q3 means the demo is loaded.
"""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from stdnum.cn import uscc as uscc_check

from services.common.schemas import load

from . import complaints, evaluations, rectifications, rules, service_figures, statistics
from .common import happening_at
from .contract.schemas import RectificationStepIn, SubmissionIn
from .contract.schemas_complaints import ComplaintActionIn, ComplaintIn
from .models import Evaluation, InstitutionName, StatisticsPublication

REGISTRY_NAMESPACE = uuid.UUID("6f1d0c52-52a4-4e5e-9d0b-2b9f2f0a7c11")   # services/registry/demo.py
OPERATOR = {"user_id": "demo-operator-1", "role": "operator"}
OPERATOR_2 = {"user_id": "demo-operator-2", "role": "operator"}
WINDOW_ID = "demo-window-1"


def registry_institution_id(n: int) -> str:
    body = f"12321200MB{n:07d}"[:17]
    return str(uuid.uuid5(REGISTRY_NAMESPACE, body + uscc_check.calc_check_digit(body)))


NAMES = ("泰州市产品质量监督检验所", "泰州市计量测试院", "泰州市标准化院")
INSTITUTIONS = [registry_institution_id(n) for n in (1, 2, 3)]


def _known_institutions(db) -> None:
    """Complaints name approved institutions (references.check): the registry demo's, as its
    institution.approved will say (revision 0, so the real event overrides)."""
    with db.transaction() as session:
        for institution_id, name in zip(INSTITUTIONS, NAMES):
            if session.get(InstitutionName, institution_id) is None:
                session.add(InstitutionName(id=institution_id, name=name, revision=0, status="approved"))
TYPES = ("demand", "window_case", "booking", "appointment", "report_delivery")
# One rating per evaluated service; None: never answered (expires as not evaluated).
PATTERN = ["very_satisfied", "satisfied", "very_satisfied", "basic", "satisfied", None, "very_satisfied",
           "dissatisfied", "satisfied", "very_satisfied", None, "satisfied", "basic", "very_dissatisfied",
           "very_satisfied", "satisfied", None, "very_satisfied", "satisfied", "dissatisfied", "basic",
           "very_satisfied", "satisfied", None, "very_satisfied", "satisfied", "satisfied", "very_satisfied",
           "basic", "dissatisfied", "very_satisfied", "satisfied", None, "very_satisfied", "satisfied", "basic"]
REASONS = {"dissatisfied": (["slow"], "报告比承诺周期晚了三个工作日"),
           "very_dissatisfied": (["attitude", "process_unclear"], "窗口人员态度生硬，流程没有讲清楚")}


def _rating(overall: str) -> dict:
    near = {"very_satisfied": "satisfied", "satisfied": "satisfied", "basic": "basic", "dissatisfied": "basic",
            "very_dissatisfied": "dissatisfied"}[overall]
    data = {"overall": overall, "process": near, "efficiency": overall, "attitude": near}
    if overall in REASONS:
        data["reason_tags"], data["text"] = REASONS[overall]
    return load(SubmissionIn, data)


def _institution_principal(institution_id: str) -> dict:
    return {"user_id": f"demo-inst-{institution_id[:8]}", "role": "institution", "institution_id": institution_id}


def _evaluations(db) -> dict:
    """The quarter replayed at its own dates (so its clocks, on-time rates and steps are Q3's)."""
    start = dt.datetime(2026, 7, 1, 1, 0)
    made = {"invited": 0, "rated": 0, "rectifications": 0}
    bad: list[tuple[str, str, dt.datetime]] = []
    for i, overall in enumerate(PATTERN):
        institution = INSTITUTIONS[i % len(INSTITUTIONS)]
        finished = start + dt.timedelta(days=(i * 85) // len(PATTERN), hours=i % 7)
        block = {"service_type": TYPES[i % len(TYPES)], "service_id": f"demo-2026q3-{i:03d}",
                 "enterprise_id": f"demo-enterprise-{i % 6}", "institution_id": institution,
                 "window_id": WINDOW_ID if i % 3 == 0 else None, "handler_id": "demo-handler-1",
                 "finished_at": finished.isoformat() + "Z"}
        with db.transaction() as session, happening_at(finished + dt.timedelta(minutes=5)):
            evaluation = evaluations.open_invitation(session, block)
            if evaluation is None:
                continue
            made["invited"] += 1
        if overall is None:
            continue
        rated_at = finished + dt.timedelta(days=1 + i % 3, hours=2)
        with db.transaction() as session, happening_at(rated_at):
            customer = {"user_id": block["enterprise_id"], "role": "enterprise"}
            data = _rating(overall)
            if i % 10 == 4:   # answered on the phone, entered by staff
                customer = OPERATOR
                data.update(channel="phone", call_reference=f"CALL-2026Q3-{i:03d}")
            done = evaluations.submit(session, customer, evaluation.id, data)
            made["rated"] += 1
            if done.rectification_id:
                bad.append((done.rectification_id, institution, rated_at))
    with db.transaction() as session:
        evaluations.expire_due(session)   # the unanswered ones, now long past their 10 working days
    for n, (case_id, institution, opened) in enumerate(bad):
        late = dt.timedelta(days=4) if n == 2 else dt.timedelta(hours=3)   # one verification breaches its day
        steps = [(late, OPERATOR, {"action": "verify", "cause_analysis": "经核实：检测高峰期排队，受理时未告知实际周期"})]
        if n % 4 == 1:
            steps += [(late + dt.timedelta(hours=2), _institution_principal(institution),
                       {"action": "appeal", "reason": "该服务由其他机构承检"}),
                      (late + dt.timedelta(days=1), OPERATOR,
                       {"action": "decide_appeal", "overturn": True, "reason": "经核实申诉成立，评价不计入统计"})]
        elif n % 4 in (0, 2):
            steps += [(dt.timedelta(days=6), _institution_principal(institution),
                       {"action": "rectify", "measures": "增设周末检测时段，受理时书面告知周期"}),
                      (dt.timedelta(days=7), OPERATOR_2, {"action": "recheck", "note": "整改措施已落实"}),
                      (dt.timedelta(days=8), OPERATOR_2, {"action": "call_back", "result": "satisfied"}),
                      (dt.timedelta(days=8, hours=1), OPERATOR_2, {"action": "close"})]
        for offset, principal, payload in steps:
            with db.transaction() as session, happening_at(opened + offset):
                rectifications.advance(session, principal, case_id, load(RectificationStepIn, payload))
        made["rectifications"] += 1
    return made


def _quarter_complaints(db) -> int:
    """Complaints of the quarter, closed at their own dates (one reply breaches its limit)."""
    flow = ["accept", "investigate", "forward", "answer", "decide", "tell", "satisfaction"]
    outcomes = ["upheld", "partly_upheld", "not_upheld"]
    made = 0
    for i in range(6):
        institution = INSTITUTIONS[i % len(INSTITUTIONS)]
        type_, content = CONTENT[i % len(CONTENT)]
        filed = dt.datetime(2026, 7, 6, 2, 0) + dt.timedelta(days=13 * i)
        customer = {"user_id": f"demo-enterprise-{i % 6}", "role": "enterprise"}
        with db.transaction() as session, happening_at(filed):
            complaint = complaints.file(session, customer, load(ComplaintIn, {
                "institution_id": institution, "type": type_, "content": content, "requests": "请核查并答复"}))
        at = filed
        for action in flow:
            at += dt.timedelta(days=9 if (i == 3 and action == "answer") else 1, hours=1)
            principal = (_institution_principal(institution) if action == "answer"
                         else customer if action == "satisfaction" else OPERATOR)
            payload = {"action": action, **ACTIONS[action]}
            if action == "decide":
                payload["outcome"] = outcomes[i % 3]
            with db.transaction() as session, happening_at(at):
                complaints.act(session, principal, complaint.id, load(ComplaintActionIn, payload))
        made += 1
    return made


# Each complaint is taken as far as its list of actions goes: every stage is shown.
STAGES = [
    [],                                                            # received
    ["accept"],
    ["accept", "investigate"],
    ["accept", "investigate", "forward"],
    ["accept", "investigate", "forward", "return"],
    ["accept", "investigate", "forward", "answer"],
    ["accept", "investigate", "forward", "answer", "decide"],
    ["accept", "investigate", "forward", "answer", "decide", "tell"],
    ["accept", "investigate", "forward", "answer", "decide", "tell", "satisfaction"],
    ["accept", "pause"],                                           # waiting for the complainant
]
ACTIONS = {"accept": {}, "investigate": {"note": "调取受理与检测记录"}, "forward": {},
           "return": {"reason": "该事项不属于本机构业务范围"}, "answer": {"note": "已向企业说明并加急出具报告"},
           "decide": {"outcome": "partly_upheld", "note": "投诉部分属实，已督促机构整改"}, "tell": {"channel": "phone"},
           "satisfaction": {"rating": "satisfied"}, "pause": {"reason": "等待投诉人补充检测委托单"}}
CONTENT = [("time_limit", "检测报告超过承诺周期仍未出具"), ("service_attitude", "窗口人员答复不耐烦"),
           ("charging", "收费与公示价格不一致"), ("quality_of_result", "检定证书数据有误")]


def _complaints(db) -> int:
    made = 0
    for i, stage in enumerate(STAGES):
        institution = INSTITUTIONS[i % len(INSTITUTIONS)]
        type_, content = CONTENT[i % len(CONTENT)]
        channel = ("web", "phone", "window", "letter")[i % 4]
        payload = {"channel": channel, "institution_id": institution, "type": type_, "content": content,
                   "requests": "请尽快处理并答复"}
        if channel == "web":
            filer = {"user_id": f"demo-enterprise-{i % 6}", "role": "enterprise"}
        else:
            filer = OPERATOR
            payload.update(complainant_id=f"demo-enterprise-{i % 6}", complainant_name="王示范",
                           complainant_phone="13900139000")
        with db.transaction() as session:
            complaint = complaints.file(session, filer, load(ComplaintIn, payload))
        for action in stage:
            principal = (_institution_principal(institution) if action in ("answer", "return")
                         else {"user_id": f"demo-enterprise-{i % 6}", "role": "enterprise"}
                         if action == "satisfaction" else OPERATOR)
            with db.transaction() as session:
                complaints.act(session, principal, complaint.id, load(ComplaintActionIn,
                                                                      {"action": action, **ACTIONS[action]}))
        made += 1
    with db.transaction() as session:   # a duplicate of the first, merged
        dup = complaints.file(session, {"user_id": "demo-enterprise-0", "role": "enterprise"},
                              load(ComplaintIn, {"institution_id": INSTITUTIONS[0], "type": "time_limit",
                                                 "content": "报告超期（重复提交）"}))
        first = session.scalars(select(complaints.Complaint).order_by(complaints.Complaint.number)).first()
    with db.transaction() as session:
        complaints.act(session, OPERATOR, dup.id, load(ComplaintActionIn, {"action": "merge", "into": first.id}))
    return made + 1


def seed(db) -> str:
    with db.transaction() as session:
        rules.ensure_defaults(session)
        if session.scalars(select(StatisticsPublication).where(StatisticsPublication.year == 2026,
                                                               StatisticsPublication.quarter == 3)).first():
            return "2026-Q3 already published"
        fresh = session.scalars(select(Evaluation).where(Evaluation.service_id.like("demo-2026q3-%"))).first() is None
    _known_institutions(db)
    made = _evaluations(db) if fresh else {}
    filed = (_quarter_complaints(db) + _complaints(db)) if fresh else 0
    # The quarter's on-time rates count verdicts received as sla.clock_closed: the demo's own
    # are taken now (the services do not run yet); the bus's later copies are skipped.
    service_figures.take_own_recorded(db)
    with db.transaction() as session:
        statistics.publish(session, OPERATOR, {"year": 2026, "quarter": 3})
    return f"evaluations {made}, complaints {filed}, 2026-Q3 published"
