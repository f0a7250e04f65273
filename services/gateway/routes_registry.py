"""Routes of the registry service: catalogue, guides, onboarding, institutions, windows.

Reads of the catalogue, guides, active institutions and public windows need no
token. Writes are limited by role here; whose object it is (an institution
edits only itself, an applicant sees only their application) is decided by the
registry. Regulators read but are never in a write route's roles.
"""
from __future__ import annotations

from services.common.schemas import SlaClockOut
from services.registry import schemas as reg

from .routing import Route
from .schemas import SlaClockQuery

OPERATORS = ("operator", "admin")
READERS = ("operator", "admin", "regulator")
APPLICANTS = ("enterprise", "institution", "person")


def list_categories(ctx):
    return ctx.call("registry", "list_categories")


def list_items(ctx):
    return ctx.call("registry", "list_items", category=ctx.query.get("category"))


def create_item(ctx):
    return 201, ctx.call("registry", "create_item", ctx.body, idempotency_key=ctx.idempotency_key)


def update_item(ctx):
    return ctx.call("registry", "update_item", ctx.path_params["code"], ctx.body)


def get_guide(ctx):
    return ctx.call("registry", "get_guide", ctx.path_params["item_code"])


def list_guide_versions(ctx):
    return ctx.call("registry", "list_guide_versions", ctx.path_params["item_code"])


def get_guide_version(ctx):
    return ctx.call("registry", "get_guide_version", ctx.path_params["item_code"], ctx.path_params["version"])


def publish_guide(ctx):
    return 201, ctx.call("registry", "publish_guide", ctx.path_params["item_code"], ctx.body,
                         idempotency_key=ctx.idempotency_key)


def submit_application(ctx):
    return 201, ctx.call("registry", "submit_application", ctx.body,
                         idempotency_key=ctx.idempotency_key)


def resubmit_application(ctx):
    return ctx.call("registry", "resubmit_application", ctx.path_params["application_id"], ctx.body)


def review_application(ctx):
    return ctx.call("registry", "review_application", ctx.path_params["application_id"], ctx.body,
                    idempotency_key=ctx.idempotency_key)


def get_application(ctx):
    return ctx.call("registry", "get_application", ctx.path_params["application_id"])


def list_applications(ctx):
    return ctx.call("registry", "list_applications", status=ctx.query.get("status"),
                    limit=ctx.query["limit"], offset=ctx.query["offset"])


def list_institutions(ctx):
    return ctx.call("registry", "list_institutions", category=ctx.query.get("category"),
                    kind=ctx.query.get("kind"), status=ctx.query.get("status"), limit=ctx.query["limit"],
                    offset=ctx.query["offset"])


def get_institution(ctx):
    return ctx.call("registry", "get_institution", ctx.path_params["institution_id"])


def list_capabilities(ctx):
    return ctx.call("registry", "list_capabilities", ctx.path_params["institution_id"])


def list_qualifications(ctx):
    return ctx.call("registry", "list_qualifications", ctx.path_params["institution_id"])


def add_capability(ctx):
    return 201, ctx.call("registry", "add_capability", ctx.path_params["institution_id"], ctx.body,
                         idempotency_key=ctx.idempotency_key)


def add_qualification(ctx):
    return 201, ctx.call("registry", "add_qualification", ctx.path_params["institution_id"], ctx.body,
                         idempotency_key=ctx.idempotency_key)


def submit_change(ctx):
    return 201, ctx.call("registry", "submit_change", ctx.path_params["institution_id"], ctx.body,
                         idempotency_key=ctx.idempotency_key)


def list_changes(ctx):
    return ctx.call("registry", "list_changes", ctx.path_params["institution_id"])


def get_change(ctx):
    return ctx.call("registry", "get_change", ctx.path_params["institution_id"],
                    ctx.path_params["change_id"])


def resubmit_change(ctx):
    return ctx.call("registry", "resubmit_change", ctx.path_params["institution_id"],
                    ctx.path_params["change_id"], ctx.body)


def review_change(ctx):
    return ctx.call("registry", "review_change", ctx.path_params["institution_id"],
                    ctx.path_params["change_id"], ctx.body, idempotency_key=ctx.idempotency_key)


def deregister(ctx):
    return ctx.call("registry", "deregister", ctx.path_params["institution_id"], ctx.body,
                    idempotency_key=ctx.idempotency_key)


def institution_history(ctx):
    return ctx.call("registry", "institution_history", ctx.path_params["institution_id"])


def notifications(ctx):
    return ctx.call("registry", "notifications", limit=ctx.query["limit"], offset=ctx.query["offset"])


def review_clocks(ctx):
    clocks = ctx.call("registry", "list_review_clocks", overdue=ctx.query.get("overdue"),
                      calendar_gap=ctx.query.get("calendar_gap"))
    if ctx.query.get("due_soon") is not None:
        clocks = [c for c in clocks if bool(c.get("due_soon")) == ctx.query["due_soon"]]
    return clocks


def list_windows(ctx):
    return ctx.call("registry", "list_windows", kind=ctx.query.get("kind"))


def get_window(ctx):
    return ctx.call("registry", "get_window", ctx.path_params["window_id"])


def create_window(ctx):
    return 201, ctx.call("registry", "create_window", ctx.body, idempotency_key=ctx.idempotency_key)


def set_window_services(ctx):
    return ctx.call("registry", "set_window_services", ctx.path_params["window_id"], ctx.body)


def update_window(ctx):
    return ctx.call("registry", "update_window", ctx.path_params["window_id"], ctx.body)


def create_case(ctx):
    return 201, ctx.call("registry", "create_case", ctx.path_params["window_id"], ctx.body,
                         idempotency_key=ctx.idempotency_key)


def list_cases(ctx):
    return ctx.call("registry", "list_cases", ctx.path_params["window_id"])


def get_case(ctx):
    return ctx.call("registry", "get_case", ctx.path_params["window_id"], ctx.path_params["case_id"])


def set_case_team(ctx):
    return ctx.call("registry", "set_case_team", ctx.path_params["window_id"],
                    ctx.path_params["case_id"], ctx.body)


def add_case_log(ctx):
    return 201, ctx.call("registry", "add_case_log", ctx.path_params["window_id"],
                         ctx.path_params["case_id"], ctx.body, idempotency_key=ctx.idempotency_key)


def list_trainings(ctx):
    return ctx.call("registry", "list_trainings", category=ctx.query.get("category"), limit=ctx.query["limit"],
                    offset=ctx.query["offset"])


def get_training(ctx):
    return ctx.call("registry", "get_training", ctx.path_params["training_id"])


def create_training(ctx):
    return 201, ctx.call("registry", "create_training", ctx.body, idempotency_key=ctx.idempotency_key)


def sign_up_training(ctx):
    out = ctx.call("registry", "sign_up_training", ctx.path_params["training_id"])
    # Signing up twice is not an error: the place already held comes back, with 200 instead of 201.
    return (200 if out.get("already_signed_up") else 201), out


def cancel_training_signup(ctx):
    return ctx.call("registry", "cancel_training_signup", ctx.path_params["training_id"])


def my_training_signup(ctx):
    return ctx.call("registry", "my_training_signup", ctx.path_params["training_id"])


def list_training_signups(ctx):
    return ctx.call("registry", "list_training_signups", ctx.path_params["training_id"])


_R = "registry"
_UPLOAD_NOTE = ("Attachments are JSON objects {filename, content_base64} (or {file_id} of a file already "
                "stored): PDF, JPEG or PNG by magic bytes, at most 10 MiB each. A missing attachment, wrong type, "
                "oversized file or expired certificate is a 422 problem whose `errors` name the field; nothing "
                "is stored then. / 附件以 base64 放在 JSON 中，仅限 PDF/JPEG/PNG，单个不超过 10 MiB。")

ROUTES = [
    Route("GET", "/catalog/categories", list_categories, "Service catalogue: 8 categories with items / 服务目录",
          _R, response=reg.CategoryOut, many=True),
    Route("GET", "/catalog/items", list_items, "Catalogue items / 服务事项", _R, query=reg.ListQuery,
          response=reg.ItemOut, many=True),
    Route("POST", "/catalog/items", create_item, "Add a catalogue item (operator) / 新增服务事项", _R,
          body=reg.CatalogItemIn, response=reg.ItemOut, roles=OPERATORS, status=201, idempotent_create=True),
    Route("PUT", "/catalog/items/<code>", update_item, "Edit a catalogue item (operator) / 修改服务事项", _R,
          body=reg.CatalogItemUpdate, response=reg.ItemOut, roles=OPERATORS),
    Route("GET", "/guides/<item_code>", get_guide, "Current service guide of an item (public) / 办事指南", _R,
          response=reg.GuideOut),
    Route("GET", "/guides/<item_code>/versions", list_guide_versions, "All versions of a guide / 指南历史版本", _R,
          response=reg.GuideOut, many=True),
    Route("GET", "/guides/<item_code>/versions/<int:version>", get_guide_version, "One version of a guide", _R,
          response=reg.GuideOut),
    Route("PUT", "/guides/<item_code>", publish_guide, "Publish a new guide version (operator) / 发布指南新版本",
          _R, body=reg.GuideIn, response=reg.GuideOut, roles=OPERATORS, status=201, idempotent_create=True),
    Route("POST", "/applications", submit_application,
          "Apply to join as a technical institution, with attachments a)-e) / 技术机构入驻申请", _R,
          body=reg.ApplicationIn, response=reg.ApplicationOut, roles=APPLICANTS, status=201, idempotent_create=True,
          description=_UPLOAD_NOTE, extra_responses={"409": "Already registered or an application is open"}),
    Route("GET", "/applications", list_applications, "Applications (staff: all; others: their own) / 申请列表", _R,
          query=reg.ListQuery, response=reg.PageOut, roles=()),
    Route("GET", "/applications/<application_id>", get_application,
          "One application with its review clock (applicant or staff) / 申请详情及审核时限", _R,
          response=reg.ApplicationOut, roles=()),
    Route("PUT", "/applications/<application_id>", resubmit_application,
          "Resubmit a returned application; the review clock restarts / 补正后重新提交", _R, body=reg.ApplicationIn,
          response=reg.ApplicationOut, roles=APPLICANTS, description=_UPLOAD_NOTE),
    Route("POST", "/applications/<application_id>/review", review_application,
          "Approve, reject or return for supplement (operator) / 审核", _R, body=reg.ReviewIn,
          response=reg.ApplicationOut, roles=OPERATORS, idempotent_create=True),
    Route("GET", "/institutions", list_institutions, "Registered institutions (public: active only) / 机构列表", _R,
          query=reg.ListQuery, response=reg.PageOut),
    Route("GET", "/institutions/<institution_id>", get_institution, "Institution public profile / 机构信息", _R,
          response=reg.InstitutionOut),
    Route("GET", "/institutions/<institution_id>/capabilities", list_capabilities,
          "Capabilities the institution offers / 服务能力", _R, response=reg.CapabilityOut, many=True),
    Route("GET", "/institutions/<institution_id>/qualifications", list_qualifications,
          "Qualifications / 资质", _R, response=reg.QualificationOut, many=True),
    Route("POST", "/institutions/<institution_id>/capabilities", add_capability,
          "Publish a capability (own institution) / 发布服务能力", _R, body=reg.CapabilityCreate,
          response=reg.CapabilityOut, roles=("institution",) + OPERATORS, status=201, idempotent_create=True),
    Route("POST", "/institutions/<institution_id>/qualifications", add_qualification,
          "Add a qualification (own institution) / 新增资质", _R, body=reg.QualificationCreate,
          response=reg.QualificationOut, roles=("institution",) + OPERATORS, status=201, idempotent_create=True,
          description=_UPLOAD_NOTE),
    Route("POST", "/institutions/<institution_id>/changes", submit_change,
          "Submit a change of name/address/legal representative / 信息变更", _R, body=reg.ChangeIn,
          response=reg.ChangeOut, roles=("institution",) + OPERATORS, status=201, idempotent_create=True,
          description=_UPLOAD_NOTE),
    Route("GET", "/institutions/<institution_id>/changes", list_changes, "Change history / 变更记录", _R,
          response=reg.ChangeOut, many=True, roles=("institution",) + READERS),
    Route("GET", "/institutions/<institution_id>/changes/<change_id>", get_change,
          "One change with its history and review clock / 变更详情及审核时限", _R, response=reg.ChangeOut,
          roles=("institution",) + READERS),
    Route("PUT", "/institutions/<institution_id>/changes/<change_id>", resubmit_change,
          "Resubmit a returned change; the review clock restarts / 变更补正后重新提交", _R, body=reg.ChangeIn,
          response=reg.ChangeOut, roles=("institution",) + OPERATORS, description=_UPLOAD_NOTE),
    Route("POST", "/institutions/<institution_id>/changes/<change_id>/review", review_change,
          "Approve, reject or return a change for supplement (operator) / 审核变更", _R, body=reg.ReviewIn,
          response=reg.ChangeOut, roles=OPERATORS, idempotent_create=True),
    Route("POST", "/institutions/<institution_id>/deregistration", deregister,
          "Deregister: self after closure, or forced by an operator / 注销", _R, body=reg.DeregistrationIn,
          response=reg.InstitutionOut, roles=("institution",) + OPERATORS, idempotent_create=True),
    Route("GET", "/institutions/<institution_id>/history", institution_history, "Institution history / 机构历史", _R,
          response=reg.InstitutionEventOut, many=True, roles=("institution",) + READERS),
    Route("GET", "/notifications", notifications, "My in-app notifications / 站内通知", _R, query=reg.ListQuery,
          response=reg.PageOut, roles=()),
    Route("GET", "/sla/registry/clocks", review_clocks, "Open review clocks of the registry (staff) / 审核时限", _R,
          query=SlaClockQuery, response=SlaClockOut, many=True, roles=READERS),
    Route("GET", "/windows", list_windows, "Service windows (public ones without sign-in) / 服务窗口", _R,
          query=reg.ListQuery, response=reg.WindowOut, many=True),
    Route("GET", "/windows/<window_id>", get_window, "One service window / 窗口详情", _R,
          response=reg.WindowOut),
    Route("POST", "/windows", create_window, "Create a service window (operator) / 新建窗口", _R, body=reg.WindowIn,
          response=reg.WindowOut, roles=OPERATORS, status=201, idempotent_create=True),
    Route("PUT", "/windows/<window_id>/services", set_window_services,
          "Configure a window's service list (operator or its own staff) / 配置窗口服务", _R,
          body=reg.WindowServicesIn, response=reg.WindowOut, roles=("window",) + OPERATORS),
    Route("PATCH", "/windows/<window_id>", update_window,
          "Edit a window's identity: name, code, region, address, contact, opening hours, public listing "
          "(operator) / 修改窗口标识信息", _R, body=reg.WindowUpdate, response=reg.WindowOut, roles=OPERATORS,
          extra_responses={"409": "Code already used by another window"}),
    Route("POST", "/windows/<window_id>/cases", create_case,
          "Open a point-to-point case with its team on an enterprise window (operator) / 新建企业点对点服务案例", _R,
          body=reg.CaseIn, response=reg.CaseOut, roles=OPERATORS, status=201, idempotent_create=True,
          extra_responses={"409": "Not an enterprise window"}),
    Route("GET", "/windows/<window_id>/cases", list_cases,
          "Cases of an enterprise window that the caller may see (its enterprise, team, operators) / 服务案例", _R,
          response=reg.CaseOut, many=True, roles=()),
    Route("GET", "/windows/<window_id>/cases/<case_id>", get_case,
          "One case with team and log (enterprise, team, operators; 404 to anyone else) / 案例详情", _R,
          response=reg.CaseOut, roles=()),
    Route("PUT", "/windows/<window_id>/cases/<case_id>/team", set_case_team,
          "Replace the case team (operator) / 设置协同服务团队", _R, body=reg.CaseTeamIn, response=reg.CaseOut,
          roles=OPERATORS),
    Route("POST", "/windows/<window_id>/cases/<case_id>/log", add_case_log,
          "Add a case log entry: instrument selection, product development, technical problem "
          "(enterprise, team, operators) / 记录服务过程", _R, body=reg.CaseLogIn, response=reg.CaseOut, roles=(),
          status=201, idempotent_create=True),
    Route("GET", "/trainings", list_trainings, "Upcoming training events (public) / 培训活动", _R,
          query=reg.ListQuery, response=reg.TrainingPageOut),
    Route("POST", "/trainings", create_training, "Publish a training event (operator) / 发布培训", _R,
          body=reg.TrainingIn, response=reg.TrainingOut, roles=OPERATORS, status=201, idempotent_create=True),
    Route("GET", "/trainings/<training_id>", get_training, "One training event (public) / 培训详情", _R,
          response=reg.TrainingOut),
    Route("POST", "/trainings/<training_id>/signups", sign_up_training,
          "Sign up: confirmed while seats are free, else waiting list; once per user (200 when already "
          "signed up) / 培训报名", _R, response=reg.SignupOut, roles=("enterprise", "person"), status=201,
          extra_responses={"409": "Training started or cancelled"}),
    Route("GET", "/trainings/<training_id>/signups/mine", my_training_signup,
          "My sign-up and waiting-list position / 我的报名", _R, response=reg.SignupOut, roles=()),
    Route("DELETE", "/trainings/<training_id>/signups/mine", cancel_training_signup,
          "Cancel my sign-up; the first on the waiting list moves up / 取消报名", _R, response=reg.SignupOut,
          roles=()),
    Route("GET", "/trainings/<training_id>/signups", list_training_signups,
          "Sign-ups of a training: confirmed, waiting list in order, cancelled (operator) / 报名名单", _R,
          response=reg.SignupListOut, roles=OPERATORS),
]
