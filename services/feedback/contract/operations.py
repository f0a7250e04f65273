"""Every operation of the feedback service (the gateway's routes, the RPC methods, the OpenAPI)."""
from __future__ import annotations

from services.common.operations import Operation
from services.common.platform import ANY_SIGNED_IN, OPERATORS, PLATFORM_STAFF, PUBLIC, STAFF_READERS, STAFF_ROLES

from . import schemas as s
from . import schemas_complaints as c
from . import schemas_statistics as st
from . import schemas_support as su

NOT_FOUND = {404: "Not found, or not yours to see / 不存在或无权查看"}
CLOSED = {409: "Already done, or not at this step / 已完成或当前环节不允许"}
INTERESTED = {403: "The handler, the evaluated institution or its window cannot evaluate / 经办人及被评价机构不能评价"}

OPERATIONS = (
    # -- evaluations --------------------------------------------------------------------------------
    Operation("list_evaluations", "GET", "/evaluations", "Evaluations: mine, my institution's, or all (staff) / 评价列表",
              "evaluations:list_evaluations", roles=ANY_SIGNED_IN, query=s.EvaluationQuery,
              response=s.EvaluationPage, tag="evaluations"),
    Operation("get_evaluation", "GET", "/evaluations/<evaluation_id>", "One evaluation / 评价详情",
              "evaluations:get_evaluation", roles=ANY_SIGNED_IN, response=s.EvaluationOut, problems=NOT_FOUND,
              tag="evaluations"),
    Operation("submit_evaluation", "POST", "/evaluations/<evaluation_id>/submission",
              "Rate a finished service once (or enter a phone/SMS answer) / 提交评价（仅一次）",
              "evaluations:submit", roles=ANY_SIGNED_IN, body=s.SubmissionIn, response=s.EvaluationOut,
              problems={**NOT_FOUND, **INTERESTED, 409: "Submitted once already; no edits / 已评价，不可修改"},
              tag="evaluations"),
    Operation("comment_evaluation", "POST", "/evaluations/<evaluation_id>/comment",
              "Append the one later comment / 追加评论（一次）", "evaluations:add_comment", roles=ANY_SIGNED_IN,
              body=s.CommentIn, response=s.EvaluationOut,
              problems={**NOT_FOUND, 403: "Only the customer comments / 仅评价人可追加评论", **CLOSED},
              tag="evaluations"),
    Operation("assess_evaluation", "POST", "/evaluations/<evaluation_id>/assessments",
              "Self-evaluation (institution/window) or third-party evaluation (regulator) / 自评或第三方评价",
              "evaluations:add_assessment", roles=ANY_SIGNED_IN, body=s.AssessmentIn, response=s.EvaluationOut,
              status=201, problems={**NOT_FOUND, 403: "Self: the institution or window that served; third party: "
                                                    "regulators and operators / 自评限办理机构，第三方限监管与运营",
                                    **CLOSED}, tag="evaluations"),
    Operation("import_third_party", "POST", "/evaluation-batches",
              "Import a third-party evaluation batch (all rows or none) / 导入第三方评价批次",
              "evaluations:import_third_party", roles=OPERATORS, body=s.ThirdPartyBatchIn, response=s.BatchOut,
              status=201, creates=True, problems={**CLOSED, 404: "A row names no evaluation / 行中的评价不存在"},
              tag="evaluations"),
    # -- rectifications -------------------------------------------------------------------------------
    Operation("list_rectifications", "GET", "/rectifications", "Rectification cases of bad reviews / 差评整改列表",
              "rectifications:list_rectifications", roles=ANY_SIGNED_IN, query=s.RectificationQuery,
              response=s.RectificationOut, many=True, tag="rectifications"),
    Operation("get_rectification", "GET", "/rectifications/<rectification_id>", "One rectification / 整改详情",
              "rectifications:get_rectification", roles=ANY_SIGNED_IN, response=s.RectificationOut,
              problems=NOT_FOUND, tag="rectifications"),
    Operation("advance_rectification", "POST", "/rectifications/<rectification_id>/steps",
              "Verify, rectify/explain, appeal, decide, re-check, call back, close / 整改环节",
              "rectifications:advance", roles=ANY_SIGNED_IN, body=s.RectificationStepIn,
              response=s.RectificationOut,
              problems={**NOT_FOUND, 403: "Not yours at this step (re-check: a different staff member) / 无权执行",
                        **CLOSED}, tag="rectifications"),
    # -- complaints -------------------------------------------------------------------------------------
    Operation("file_complaint", "POST", "/complaints", "File a complaint (or enter one taken by phone, "
              "window or letter) / 提交投诉", "complaints:file", roles=ANY_SIGNED_IN, body=c.ComplaintIn,
              response=c.ComplaintOut, status=201, creates=True,
              problems={403: "Online: enterprises and persons; phone/window/letter: platform staff / "
                             "网上投诉限企业与个人，其他渠道由平台工作人员录入"}, tag="complaints"),
    Operation("list_complaints", "GET", "/complaints", "Complaints: mine, my institution's, or the staff queue / "
              "投诉列表", "complaints:list_complaints", roles=ANY_SIGNED_IN, query=c.ComplaintQuery,
              response=c.ComplaintPage, tag="complaints"),
    Operation("get_complaint", "GET", "/complaints/<complaint_id>", "One complaint / 投诉详情",
              "complaints:get_complaint", roles=ANY_SIGNED_IN, query=c.RevealQuery, response=c.ComplaintOut,
              problems=NOT_FOUND, tag="complaints", writes=True),   # a reveal is audited in a transaction
    Operation("act_on_complaint", "POST", "/complaints/<complaint_id>/actions",
              "Accept, investigate, forward, answer, return, decide, tell, satisfaction, pause/resume, merge / 投诉办理",
              "complaints:act", roles=ANY_SIGNED_IN, body=c.ComplaintActionIn, response=c.ComplaintOut,
              problems={**NOT_FOUND, 403: "Not yours at this step / 无权执行", **CLOSED}, tag="complaints"),
    Operation("complaint_types", "GET", "/complaint-types", "The complaint taxonomy / 投诉类型",
              "complaints:types", roles=PUBLIC, response=c.ComplaintTypeOut, many=True, tag="complaints"),
    # -- supervision rules ------------------------------------------------------------------------------
    Operation("list_supervision_rules", "GET", "/supervision-rules", "Who handles which complaint type, limits, "
              "escalations / 监督规则", "rules:list_rules", roles=STAFF_READERS, response=c.SupervisionRuleOut,
              many=True, tag="supervision"),
    Operation("put_supervision_rule", "PUT", "/supervision-rules/<complaint_type>",
              "Change a supervision rule (history kept) / 修改监督规则", "rules:put_rule", roles=OPERATORS,
              body=c.SupervisionRuleIn, response=c.SupervisionRuleOut, problems=NOT_FOUND, tag="supervision"),
    Operation("supervision_rule_history", "GET", "/supervision-rules/<complaint_type>/history",
              "A rule's history / 监督规则修改记录", "rules:history", roles=STAFF_READERS,
              response=c.SupervisionRuleVersionOut, many=True, problems=NOT_FOUND, tag="supervision"),
    # -- callbacks ---------------------------------------------------------------------------------------
    Operation("list_callbacks", "GET", "/callbacks", "Callback tasks and their searchable archive / 回访任务与档案",
              "callbacks:list_callbacks", roles=STAFF_READERS, query=su.CallbackQuery, response=su.CallbackPage,
              tag="callbacks"),
    Operation("get_callback", "GET", "/callbacks/<callback_id>", "One callback with its script / 回访详情与话术",
              "callbacks:get_callback", roles=STAFF_READERS, response=su.CallbackOut, problems=NOT_FOUND,
              tag="callbacks"),
    Operation("record_callback", "POST", "/callbacks/<callback_id>/attempts",
              "Record a call: reached, no answer (3 tries: unreachable), reopen / 记录回访结果",
              "callbacks:attempt", roles=PLATFORM_STAFF, body=su.CallbackAttemptIn, response=su.CallbackOut,
              problems={**NOT_FOUND, **CLOSED}, tag="callbacks"),
    # -- support requests -----------------------------------------------------------------------------
    Operation("open_support_request", "POST", "/support-requests", "File a technical support request / "
              "提交技术支持请求", "support:open_request", roles=ANY_SIGNED_IN, body=su.SupportIn,
              response=su.SupportOut, status=201, creates=True, tag="support"),
    Operation("list_support_requests", "GET", "/support-requests", "Support requests: mine, or all (staff) / "
              "技术支持请求列表", "support:list_requests", roles=ANY_SIGNED_IN, query=su.SupportQuery,
              response=su.SupportOut, many=True, tag="support"),
    Operation("get_support_request", "GET", "/support-requests/<support_id>", "One support request / "
              "技术支持请求详情", "support:get_request", roles=ANY_SIGNED_IN, response=su.SupportOut,
              problems=NOT_FOUND, tag="support"),
    Operation("answer_support_request", "POST", "/support-requests/<support_id>/answer",
              "Answer (and resolve) a support request / 答复技术支持请求", "support:answer", roles=PLATFORM_STAFF,
              body=su.SupportAnswerIn, response=su.SupportOut, problems={**NOT_FOUND, **CLOSED}, tag="support"),
    # -- improvement ----------------------------------------------------------------------------------
    Operation("create_improvement", "POST", "/improvements", "An improvement plan item or a joint assessment / "
              "新增改进事项或联合评估", "improvements:create", roles=OPERATORS, body=su.ImprovementIn,
              response=su.ImprovementOut, status=201, creates=True,
              problems={404: "The linked plan item does not exist / 关联的改进事项不存在"}, tag="improvements"),
    Operation("list_improvements", "GET", "/improvements", "Improvement plan items and joint assessments / "
              "持续改进", "improvements:list_items", roles=STAFF_READERS, query=su.ImprovementQuery,
              response=su.ImprovementOut, many=True, tag="improvements"),
    Operation("published_improvements", "GET", "/improvements/published", "Re-checked plan items (public) / "
              "已复查的改进事项（公开）", "improvements:published", roles=PUBLIC, response=su.ImprovementOut,
              many=True, tag="improvements"),
    Operation("progress_improvement", "POST", "/improvements/<improvement_id>/progress",
              "Evidence, then the re-check / 提交证据与复查结果", "improvements:progress", roles=OPERATORS,
              body=su.ImprovementProgressIn, response=su.ImprovementOut, problems={**NOT_FOUND, **CLOSED},
              tag="improvements"),
    # -- statistics -------------------------------------------------------------------------------------
    Operation("quarterly_statistics", "GET", "/statistics/quarterly",
              "A published quarter (public, 定期公示) / 季度统计公示", "statistics:published", roles=PUBLIC,
              query=st.QuarterQuery, response=st.QuarterlyOut,
              problems={404: "Not published / 尚未公示"}, tag="statistics"),
    Operation("published_quarters", "GET", "/statistics/quarterly/published", "Published quarters (public) / "
              "已公示季度", "statistics:list_published", roles=PUBLIC, response=st.PublishedQuarterOut, many=True,
              tag="statistics"),
    Operation("preview_quarter", "GET", "/statistics/quarterly/preview", "A quarter's live figures (staff) / "
              "季度统计预览", "statistics:preview", roles=STAFF_READERS, query=st.QuarterQuery,
              response=st.QuarterlyOut, tag="statistics"),
    Operation("publish_quarter", "POST", "/statistics/quarterly", "Publish a quarter (refused while a "
              "dissatisfied item lacks its cause analysis) / 公示季度统计", "statistics:publish", roles=OPERATORS,
              body=st.PublishIn, response=st.QuarterlyOut, status=201,
              problems={409: "Published already, or a cause analysis is missing / 已公示或缺少原因分析"},
              tag="statistics"),
    # -- escalation notices -------------------------------------------------------------------------
    Operation("list_escalation_notices", "GET", "/escalation-notices",
              "Escalations that reached me or my role / 升级督办通知", "escalations:list_notices",
              roles=STAFF_ROLES, query=s.NoticeQuery, response=s.NoticePage, tag="complaints"),
    Operation("read_escalation_notice", "POST", "/escalation-notices/<notice_id>/read",
              "Mark a notice read / 标记已读", "escalations:read_notice", roles=STAFF_ROLES,
              response=s.NoticeOut, problems=NOT_FOUND, tag="complaints"),
    Operation("export_quarter", "GET", "/statistics/quarterly/export", "A quarter as a CSV or .xlsx file / "
              "导出季度统计文件", "statistics:export", roles=PUBLIC, query=st.ExportQuery,
              files=(st.CSV, st.XLSX), problems={404: "Not published / 尚未公示"}, tag="statistics",
              description="format=csv answers text/csv (UTF-8 with BOM), format=xlsx the .xlsx file; "
                          "Content-Disposition names it quarterly-statistics-<period>.<format>."),
)

__all__ = ["OPERATIONS", "PLATFORM_STAFF"]
