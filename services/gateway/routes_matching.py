"""Routes of the matching service: search, lookups, standards, demands, visits, packages.
Each handler is one RPC; whose demand or visit is whose is decided by the service."""
from __future__ import annotations

from services.matching import schemas as m

from .routing import Route

STAFF = ("operator", "admin")
PLATFORM = ("operator", "window", "admin")
READERS = ("operator", "admin", "regulator")


def search_institutions(ctx):
    return ctx.call("matching", "search", ctx.query)


def lookup(kind):
    def handler(ctx):
        return ctx.call("matching", "lookup", kind, ctx.query)
    handler.__name__ = f"lookup_{kind}"
    return handler


def get_institution(ctx):
    return ctx.call("matching", "get_institution", ctx.path_params["institution_id"])


def standard_by_path(ctx):
    return ctx.call("matching", "standard_lookup", ctx.path_params["number"])


def standard_by_query(ctx):
    return ctx.call("matching", "standard_lookup", ctx.query["number"])


def put_standard(ctx):
    return ctx.call("matching", "standard_put", ctx.path_params["number"], ctx.body)


def publish_demand(ctx):
    return 201, ctx.call("matching", "publish_demand", ctx.body, idempotency_key=ctx.idempotency_key)


def list_demands(ctx):
    return ctx.call("matching", "list_demands", ctx.query)


def get_demand(ctx):
    return ctx.call("matching", "get_demand", ctx.path_params["demand_id"])


def respond(ctx):
    return 201, ctx.call("matching", "respond", ctx.path_params["demand_id"], ctx.body,
                         idempotency_key=ctx.idempotency_key)


def proposals(ctx):
    return ctx.call("matching", "proposals", ctx.path_params["demand_id"], ctx.query)


def recommend(ctx):
    return 201, ctx.call("matching", "recommend", ctx.path_params["demand_id"], ctx.body,
                         idempotency_key=ctx.idempotency_key)


def engage(ctx):
    return 201, ctx.call("matching", "engage", ctx.path_params["demand_id"], ctx.body,
                         idempotency_key=ctx.idempotency_key)


def follow_up(ctx):
    return 201, ctx.call("matching", "follow_up", ctx.path_params["demand_id"], ctx.body,
                         idempotency_key=ctx.idempotency_key)


def refer(ctx):
    return 201, ctx.call("matching", "refer", ctx.path_params["demand_id"], ctx.body,
                         idempotency_key=ctx.idempotency_key)


def close_demand(ctx):
    return ctx.call("matching", "close_demand", ctx.path_params["demand_id"], ctx.body,
                    idempotency_key=ctx.idempotency_key)


def sla_demands(ctx):
    return ctx.call("matching", "sla_demands", ctx.query)


def log_visit(ctx):
    return 201, ctx.call("matching", "log_visit", ctx.body, idempotency_key=ctx.idempotency_key)


def list_visits(ctx):
    return ctx.call("matching", "list_visits", ctx.query)


def get_visit(ctx):
    return ctx.call("matching", "get_visit", ctx.path_params["visit_id"])


def package_groups(ctx):
    return ctx.call("matching", "package_groups")


def create_package(ctx):
    return 201, ctx.call("matching", "create_package", ctx.body, idempotency_key=ctx.idempotency_key)


def get_package(ctx):
    return ctx.call("matching", "get_package", ctx.path_params["package_id"])


T = "matching"
ROUTES = [
    Route("GET", "/search/institutions", search_institutions,
          "Search institutions and capabilities (Chinese, pinyin, initials, standard numbers) / 自主匹配检索", T,
          query=m.SearchQuery, response=m.SearchResultOut,
          description="Every query word must match; `explain` shows how each score was made; `cursor` pages."),
    Route("GET", "/lookups/metrology", lookup("metrology"),
          "Legal metrology verification capabilities / 法定计量检定能力查询", T, query=m.LookupQuery,
          response=m.LookupResultOut),
    Route("GET", "/lookups/labs", lookup("labs"), "Labs' qualifications and capability / 检验检测资质能力查询", T,
          query=m.LookupQuery, response=m.LookupResultOut),
    Route("GET", "/lookups/certification", lookup("certification"),
          "Certification bodies and scopes / 认证机构及范围查询", T, query=m.LookupQuery,
          response=m.LookupResultOut),
    Route("GET", "/search/institutions/<institution_id>", get_institution,
          "One platform institution's public profile / 机构公开信息", T, response=m.InstitutionProfileOut),
    Route("GET", "/standards", standard_by_query, "Standard validity lookup / 标准有效性查询", T, query=m.StandardQuery,
          response=m.StandardLookupOut, extra_responses={"404": "Standard not in the platform's list / 未收录该标准"}),
    Route("GET", "/standards/<path:number>", standard_by_path,
          "Standard validity lookup by number (e.g. GB/T 19001-2016) / 标准有效性查询", T, response=m.StandardLookupOut,
          path_patterns={"number": m.STANDARD_PATTERN}),
    Route("PUT", "/standards/<path:number>", put_standard, "Maintain a standard's status (operators) / 维护标准状态",
          T, body=m.StandardPut, response=m.StandardOut, roles=STAFF,
          path_patterns={"number": m.STANDARD_EDITION_PATTERN}),
    Route("POST", "/demands", publish_demand,
          "Publish a demand (enterprise online, or staff for one: phone/onsite/visit) / 发布需求", T,
          body=m.DemandCreate, response=m.DemandOut, roles=("enterprise",) + PLATFORM, status=201,
          idempotent_create=True),
    Route("GET", "/demands", list_demands, "Demands visible to the caller / 需求列表", T, query=m.DemandListQuery,
          response=m.DemandPageOut, roles=()),
    Route("GET", "/demands/<demand_id>", get_demand, "A demand with its timeline and SLA clocks / 需求详情", T,
          response=m.DemandOut, roles=()),
    Route("POST", "/demands/<demand_id>/responses", respond, "Respond to a demand (stops the 1-day clock) / 需求响应",
          T, body=m.ResponseCreate, response=m.DemandOut, roles=PLATFORM, status=201, idempotent_create=True),
    Route("GET", "/demands/<demand_id>/recommendations/proposals", proposals,
          "Ranked platform institutions for a demand / 推荐候选", T, query=m.ProposalQuery, response=m.ProposalsOut,
          roles=PLATFORM),
    Route("POST", "/demands/<demand_id>/recommendations", recommend,
          "Confirm recommended institutions (stops the 3-day clock) / 推荐机构", T, body=m.RecommendationCreate,
          response=m.DemandOut, roles=PLATFORM, status=201, idempotent_create=True),
    Route("POST", "/demands/<demand_id>/engagements", engage, "Connect with an institution / 对接记录", T,
          body=m.EngagementCreate, response=m.DemandOut, roles=("enterprise",) + PLATFORM, status=201,
          idempotent_create=True),
    Route("POST", "/demands/<demand_id>/follow-ups", follow_up, "Follow-up log / 跟踪服务记录", T,
          body=m.FollowUpCreate, response=m.DemandOut, roles=("enterprise",) + PLATFORM, status=201,
          idempotent_create=True),
    Route("POST", "/demands/<demand_id>/referrals", refer, "Refer to an outside institution / 外部转介", T,
          body=m.ReferralCreate, response=m.DemandOut, roles=STAFF, status=201, idempotent_create=True),
    Route("POST", "/demands/<demand_id>/close", close_demand, "End the service / 服务结束", T, body=m.CloseDemand,
          response=m.DemandOut, roles=("enterprise",) + STAFF, idempotent_create=True,
          description="`withdrawn` (the enterprise only) cancels the open SLA clocks. Closing is never the "
                      "response or recommendation a clock waits for: a clock still open is `breached` when past "
                      "due, else `cancelled` (a staff `rejected`/`duplicate` does answer the response clock, met "
                      "or breached). Staff close a demand that has no response yet only as `rejected` or "
                      "`duplicate`, with the reason in `note` (409 `demand_unanswered` otherwise)."),
    Route("GET", "/sla/demands", sla_demands, "Demand time limits: due soon, overdue, or all running / 需求时限预警", T, query=m.SlaQuery,
          response=m.SlaDemandsOut, roles=READERS),
    Route("POST", "/visits", log_visit, "Log a window visit with the demands collected / 走访记录", T,
          body=m.VisitCreate, response=m.VisitOut, roles=("window",), status=201, idempotent_create=True),
    Route("GET", "/visits", list_visits, "Visits of the caller's window (staff: all) / 走访记录列表", T,
          query=m.VisitListQuery, response=m.VisitPageOut, roles=("window",) + READERS),
    Route("GET", "/visits/<visit_id>", get_visit, "One visit record / 走访记录详情", T,
          response=m.VisitOut, roles=("window",) + READERS),
    Route("GET", "/packages/proposals", package_groups, "Same-kind demands that could be packaged / 打包建议", T,
          response=m.PackageGroupsOut, roles=STAFF),
    Route("POST", "/packages", create_package, "Package same-kind demands for an institution window / 批量打包", T,
          body=m.PackageCreate, response=m.PackageOut, roles=STAFF, status=201, idempotent_create=True),
    Route("GET", "/packages/<package_id>", get_package, "A package (an enterprise sees its own share) / 打包服务详情",
          T, response=m.PackageOut, roles=("enterprise",) + READERS),
]
