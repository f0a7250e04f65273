"""Every HTTP operation of matching, declared once (the pipeline exposes them, the gateway routes them).

Names are the operationIds' second half ("matching_<name>") and the RPC method names.
"""
from __future__ import annotations

from services.common.operations import Operation
from services.common.platform import ANY_SIGNED_IN, OPERATORS, PLATFORM_STAFF, STAFF_READERS

from . import schemas_demands as d, schemas_packages as p, schemas_search as s, schemas_standards as st
from . import schemas_visits as v
from .schemas_base import STANDARD_EDITION_PATTERN, STANDARD_PATTERN
from .vocabulary import LOOKUPS

ENTERPRISE = ("enterprise",)
CLOSE_DESCRIPTION = (
    "`withdrawn` (the enterprise only) cancels the open SLA clocks. Closing is never the "
    "response or recommendation a clock waits for: a clock still open is `breached` when past "
    "due, else `cancelled` (a staff `rejected`/`duplicate` does answer the response clock, met "
    "or breached). Staff close a demand that has no response yet only as `rejected` or "
    "`duplicate`, with the reason in `note` (409 `demand_unanswered` otherwise).")

LOOKUP_SUMMARIES = {
    "metrology": "Legal metrology verification capabilities / 法定计量检定能力查询",
    "labs": "Labs' qualifications and capability / 检验检测资质能力查询",
    "certification": "Certification bodies and scopes / 认证机构及范围查询",
}


def lookup(kind: str) -> Operation:
    """A clause-5 lookup: the search with the preset of LOOKUPS[kind]."""
    assert kind in LOOKUPS, kind
    return Operation(f"lookup_{kind}", "GET", f"/lookups/{kind}", LOOKUP_SUMMARIES[kind], "search:lookup",
                     query=s.LookupQuery, response=s.LookupResultOut, fixed={"kind": kind})


def write(name, method, path, summary, handler, roles, body, response=d.DemandOut, **kw) -> Operation:
    """A creating write: 201 and Idempotency-Key (the same key replays the answer)."""
    return Operation(name, method, path, summary, handler, roles=roles, body=body, response=response,
                     status=kw.pop("status", 201), creates=True, **kw)


OPERATIONS = (
    # -- search and lookups (public) ----------------------------------------------------------
    Operation("search_institutions", "GET", "/search/institutions",
              "Search institutions and capabilities (Chinese, pinyin, initials, standard numbers) / 自主匹配检索",
              "search:search_institutions", query=s.SearchQuery, response=s.SearchResultOut,
              description="Every query word must match; `explain` shows how each score was made; `cursor` pages."),
    lookup("metrology"),
    lookup("labs"),
    lookup("certification"),
    Operation("get_institution", "GET", "/search/institutions/<institution_id>",
              "One platform institution's public profile / 机构公开信息", "search:get_institution",
              response=s.InstitutionProfileOut),
    # -- standards -------------------------------------------------------------------------------
    Operation("standard_by_query", "GET", "/standards", "Standard validity lookup / 标准有效性查询",
              "standards:lookup", query=st.StandardQuery, response=st.StandardLookupOut,
              problems={"404": "Standard not in the platform's list / 未收录该标准"}, writes=True),
    Operation("standard_by_path", "GET", "/standards/<path:number>",
              "Standard validity lookup by number (e.g. GB/T 19001-2016) / 标准有效性查询", "standards:lookup_by_path",
              response=st.StandardLookupOut, path_patterns={"number": STANDARD_PATTERN}, writes=True),
    Operation("put_standard", "PUT", "/standards/<path:number>", "Maintain a standard's status (operators) / 维护标准状态",
              "standards:upsert", roles=OPERATORS, body=st.StandardPut, response=st.StandardOut,
              path_patterns={"number": STANDARD_EDITION_PATTERN}),
    # -- demands ---------------------------------------------------------------------------------
    write("publish_demand", "POST", "/demands",
          "Publish a demand (enterprise online, or staff for one: phone/onsite/visit) / 发布需求",
          "demands:publish", ENTERPRISE + PLATFORM_STAFF, d.DemandCreate),
    Operation("list_demands", "GET", "/demands", "Demands visible to the caller / 需求列表", "demands:list_demands",
              roles=ANY_SIGNED_IN, query=d.DemandListQuery, response=d.DemandPageOut),
    Operation("get_demand", "GET", "/demands/<demand_id>", "A demand with its timeline and SLA clocks / 需求详情",
              "demands:get_demand", roles=ANY_SIGNED_IN, response=d.DemandOut),
    write("respond", "POST", "/demands/<demand_id>/responses", "Respond to a demand (stops the 1-day clock) / 需求响应",
          "handling:respond", PLATFORM_STAFF, d.ResponseCreate),
    Operation("proposals", "GET", "/demands/<demand_id>/recommendations/proposals",
              "Ranked platform institutions for a demand / 推荐候选", "handling:proposals", roles=PLATFORM_STAFF,
              query=d.ProposalQuery, response=d.ProposalsOut),
    write("recommend", "POST", "/demands/<demand_id>/recommendations",
          "Confirm recommended institutions (stops the 3-day clock) / 推荐机构", "handling:recommend", PLATFORM_STAFF,
          d.RecommendationCreate),
    write("engage", "POST", "/demands/<demand_id>/engagements", "Connect with an institution / 对接记录",
          "handling:engage", ENTERPRISE + PLATFORM_STAFF, d.EngagementCreate),
    write("follow_up", "POST", "/demands/<demand_id>/follow-ups", "Follow-up log / 跟踪服务记录",
          "handling:follow_up", ENTERPRISE + PLATFORM_STAFF, d.FollowUpCreate),
    write("refer", "POST", "/demands/<demand_id>/referrals", "Refer to an outside institution / 外部转介",
          "handling:refer", OPERATORS, d.ReferralCreate),
    # Idempotent too: a retried close must replay its answer, not fail with demand_closed.
    write("close_demand", "POST", "/demands/<demand_id>/close", "End the service / 服务结束", "closing:close",
          ENTERPRISE + OPERATORS, d.CloseDemand, status=200, description=CLOSE_DESCRIPTION),
    Operation("sla_demands", "GET", "/sla/demands",
              "Demand time limits: due soon, overdue, or all running / 需求时限预警", "clocks:sla_demands",
              roles=STAFF_READERS, query=d.SlaQuery, response=d.SlaDemandsOut),
    # -- visits ----------------------------------------------------------------------------------
    write("log_visit", "POST", "/visits", "Log a window visit with the demands collected / 走访记录",
          "visits:log_visit", ("window",), v.VisitCreate, response=v.VisitOut),
    Operation("list_visits", "GET", "/visits", "Visits of the caller's window (staff: all) / 走访记录列表",
              "visits:list_visits", roles=("window",) + STAFF_READERS, query=v.VisitListQuery,
              response=v.VisitPageOut),
    Operation("get_visit", "GET", "/visits/<visit_id>", "One visit record / 走访记录详情", "visits:get_visit",
              roles=("window",) + STAFF_READERS, response=v.VisitOut),
    # -- packages --------------------------------------------------------------------------------
    Operation("package_groups", "GET", "/packages/proposals", "Same-kind demands that could be packaged / 打包建议",
              "packages:package_groups", roles=OPERATORS, response=p.PackageGroupsOut),
    write("create_package", "POST", "/packages", "Package same-kind demands for an institution window / 批量打包",
          "packages:create_package", OPERATORS, p.PackageCreate, response=p.PackageOut),
    Operation("get_package", "GET", "/packages/<package_id>",
              "A package (an enterprise sees its own share) / 打包服务详情", "packages:get_package",
              roles=ENTERPRISE + STAFF_READERS, response=p.PackageOut),
)
