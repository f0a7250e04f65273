"""Every HTTP operation of the registry, declared once (services.common.operations).

Reads of the catalogue, guides, active institutions, public windows and trainings
need no token. Roles are checked here once, by the pipeline; whose object it is
(an institution edits only itself, an applicant sees only their application, a
case is seen by its enterprise, team and operators) is decided by the domain.
Regulators read but are never in a write operation's roles.
"""
from __future__ import annotations

from services.common.operations import Operation
from services.common.platform import APPLICANTS, CUSTOMER_ROLES, OPERATORS, STAFF_READERS
from services.common.schemas import SlaClockOut
from services.gateway.schemas import SlaClockQuery

from .schemas_applications import ApplicationIn, ApplicationOut, ReviewIn
from .schemas_cases import CaseIn, CaseLogIn, CaseOut, CaseTeamIn
from .schemas_catalogue import CatalogItemIn, CatalogItemUpdate, CategoryOut, GuideIn, GuideOut, ItemOut
from .schemas_changes import ChangeIn, ChangeOut
from .schemas_common import ListQuery, PageOut
from .schemas_institutions import (CapabilityCreate, CapabilityOut, DeregistrationIn, InstitutionEventOut,
                                   InstitutionOut, QualificationCreate, QualificationOut)
from .schemas_training import (AttendanceIn, AttendanceOut, SignupListOut, SignupOut, TrainingIn, TrainingOut,
                               TrainingPageOut)
from .schemas_windows import WindowIn, WindowOut, WindowServicesIn, WindowUpdate

OWN_INSTITUTION = ("institution",) + OPERATORS          # the institution's staff, or an operator for it
OWN_INSTITUTION_READERS = ("institution",) + STAFF_READERS
ANY = ()                                                 # any verified caller; the domain decides what they see
UPLOAD_NOTE = ("Attachments are JSON objects {filename, content_base64} (or {file_id} of a file already "
               "stored): PDF, JPEG or PNG by magic bytes, at most 10 MiB each. A missing attachment, wrong type, "
               "oversized file or expired certificate is a 422 problem whose `errors` name the field; nothing "
               "is stored then. / 附件以 base64 放在 JSON 中，仅限 PDF/JPEG/PNG，单个不超过 10 MiB。")

CATALOGUE = (
    Operation("list_categories", "GET", "/catalog/categories", "Service catalogue: 8 categories with items / 服务目录",
              "catalogue:snapshot", response=CategoryOut, many=True, fixed={"public_only": True}),
    Operation("list_items", "GET", "/catalog/items", "Catalogue items / 服务事项", "catalogue:list_items",
              query=ListQuery, response=ItemOut, many=True),
    Operation("create_item", "POST", "/catalog/items", "Add a catalogue item (operator) / 新增服务事项",
              "catalogue:create_item", roles=OPERATORS, body=CatalogItemIn, response=ItemOut, status=201,
              creates=True),
    Operation("get_item", "GET", "/catalog/items/<code>", "One catalogue item with its current guide version / "
              "服务事项详情", "catalogue:shown_item", response=ItemOut,
              description="An item hidden from the public catalogue is found only by operators (404 otherwise)."),
    Operation("update_item", "PUT", "/catalog/items/<code>", "Edit a catalogue item (operator) / 修改服务事项",
              "catalogue:update_item", roles=OPERATORS, body=CatalogItemUpdate, response=ItemOut),
    Operation("get_guide", "GET", "/guides/<item_code>", "Current service guide of an item (public) / 办事指南",
              "guides:current", response=GuideOut),
    Operation("list_guide_versions", "GET", "/guides/<item_code>/versions", "All versions of a guide / 指南历史版本",
              "guides:versions", response=GuideOut, many=True),
    Operation("get_guide_version", "GET", "/guides/<item_code>/versions/<int:version>", "One version of a guide",
              "guides:version", response=GuideOut),
    # Every call adds a guide version, so a retried PUT needs the key as much as a POST.
    Operation("publish_guide", "PUT", "/guides/<item_code>", "Publish a new guide version (operator) / 发布指南新版本",
              "guides:publish", roles=OPERATORS, body=GuideIn, response=GuideOut, status=201, creates=True),
)

APPLICATIONS = (
    Operation("submit_application", "POST", "/applications",
              "Apply to join as a technical institution, with attachments a)-e) / 技术机构入驻申请",
              "applications:submit_application", roles=APPLICANTS, body=ApplicationIn, response=ApplicationOut,
              status=201, creates=True, description=UPLOAD_NOTE,
              problems={"409": "Already registered or an application is open"}),
    Operation("list_applications", "GET", "/applications", "Applications (staff: all; others: their own) / 申请列表",
              "applications:list_applications", roles=ANY, query=ListQuery, response=PageOut),
    Operation("get_application", "GET", "/applications/<application_id>",
              "One application with its review clock (applicant or staff) / 申请详情及审核时限",
              "applications:get_application", roles=ANY, response=ApplicationOut),
    Operation("resubmit_application", "PUT", "/applications/<application_id>",
              "Resubmit a returned application; the review clock restarts / 补正后重新提交",
              "applications:resubmit_application", roles=APPLICANTS, body=ApplicationIn, response=ApplicationOut,
              description=UPLOAD_NOTE),
    # A decision creates the institution (approve) and emits events: a retry after a lost
    # response must get the decision back, not a 409 "already decided".
    Operation("review_application", "POST", "/applications/<application_id>/review",
              "Approve, reject or return for supplement (operator) / 审核", "applications:review",
              roles=OPERATORS, body=ReviewIn, response=ApplicationOut, creates=True),
)

INSTITUTIONS = (
    Operation("list_institutions", "GET", "/institutions", "Registered institutions (public: active only) / 机构列表",
              "institutions:list_institutions", query=ListQuery, response=PageOut),
    Operation("get_institution", "GET", "/institutions/<institution_id>", "Institution public profile / 机构信息",
              "institutions:get_institution", response=InstitutionOut),
    Operation("list_capabilities", "GET", "/institutions/<institution_id>/capabilities",
              "Capabilities the institution offers / 服务能力", "institutions:list_capabilities",
              response=CapabilityOut, many=True),
    Operation("list_qualifications", "GET", "/institutions/<institution_id>/qualifications", "Qualifications / 资质",
              "institutions:list_qualifications", response=QualificationOut, many=True),
    Operation("add_capability", "POST", "/institutions/<institution_id>/capabilities",
              "Publish a capability (own institution) / 发布服务能力", "qualifications:add_capability",
              roles=OWN_INSTITUTION, body=CapabilityCreate, response=CapabilityOut, status=201, creates=True),
    Operation("add_qualification", "POST", "/institutions/<institution_id>/qualifications",
              "Add a qualification (own institution) / 新增资质", "qualifications:add_qualification",
              roles=OWN_INSTITUTION, body=QualificationCreate, response=QualificationOut, status=201, creates=True,
              description=UPLOAD_NOTE),
    Operation("submit_change", "POST", "/institutions/<institution_id>/changes",
              "Submit a change of name/address/legal representative / 信息变更", "changes:submit_change",
              roles=OWN_INSTITUTION, body=ChangeIn, response=ChangeOut, status=201, creates=True,
              description=UPLOAD_NOTE),
    Operation("list_changes", "GET", "/institutions/<institution_id>/changes", "Change history / 变更记录",
              "changes:list_changes", roles=OWN_INSTITUTION_READERS, response=ChangeOut, many=True),
    Operation("get_change", "GET", "/institutions/<institution_id>/changes/<change_id>",
              "One change with its history and review clock / 变更详情及审核时限", "changes:get_change",
              roles=OWN_INSTITUTION_READERS, response=ChangeOut),
    Operation("resubmit_change", "PUT", "/institutions/<institution_id>/changes/<change_id>",
              "Resubmit a returned change; the review clock restarts / 变更补正后重新提交", "changes:resubmit_change",
              roles=OWN_INSTITUTION, body=ChangeIn, response=ChangeOut, description=UPLOAD_NOTE),
    Operation("review_change", "POST", "/institutions/<institution_id>/changes/<change_id>/review",
              "Approve, reject or return a change for supplement (operator) / 审核变更", "changes:review",
              roles=OPERATORS, body=ReviewIn, response=ChangeOut, creates=True),
    Operation("deregister", "POST", "/institutions/<institution_id>/deregistration",
              "Deregister: self after closure, or forced by an operator / 注销", "deregistration:deregister",
              roles=OWN_INSTITUTION, body=DeregistrationIn, response=InstitutionOut, creates=True),
    Operation("institution_history", "GET", "/institutions/<institution_id>/history", "Institution history / 机构历史",
              "institutions:history", roles=OWN_INSTITUTION_READERS, response=InstitutionEventOut, many=True),
    Operation("notifications", "GET", "/notifications", "My in-app notifications / 站内通知",
              "notifications:notifications", roles=ANY, query=ListQuery, response=PageOut),
    Operation("review_clocks", "GET", "/sla/registry/clocks", "Open review clocks of the registry (staff) / 审核时限",
              "clocks:review_clocks", roles=STAFF_READERS, query=SlaClockQuery, response=SlaClockOut, many=True),
)

WINDOWS = (
    Operation("list_windows", "GET", "/windows", "Service windows (public ones without sign-in) / 服务窗口",
              "windows:list_windows", query=ListQuery, response=WindowOut, many=True),
    Operation("get_window", "GET", "/windows/<window_id>", "One service window / 窗口详情", "windows:get",
              response=WindowOut),
    Operation("create_window", "POST", "/windows", "Create a service window (operator) / 新建窗口", "windows:create",
              roles=OPERATORS, body=WindowIn, response=WindowOut, status=201, creates=True),
    Operation("set_window_services", "PUT", "/windows/<window_id>/services",
              "Configure a window's service list (operator or its own staff) / 配置窗口服务",
              "windows:configure_services", roles=("window",) + OPERATORS, body=WindowServicesIn,
              response=WindowOut),
    Operation("update_window", "PATCH", "/windows/<window_id>",
              "Edit a window's identity: name, code, region, address, contact, opening hours, public listing "
              "(operator) / 修改窗口标识信息", "windows:update_identity", roles=OPERATORS, body=WindowUpdate,
              response=WindowOut, problems={"409": "Code already used by another window"}),
    Operation("create_case", "POST", "/windows/<window_id>/cases",
              "Open a point-to-point case with its team on an enterprise window (operator) / 新建企业点对点服务案例",
              "cases:create_case", roles=OPERATORS, body=CaseIn, response=CaseOut, status=201, creates=True,
              problems={"409": "Not an enterprise window"}),
    Operation("list_cases", "GET", "/windows/<window_id>/cases",
              "Cases of an enterprise window that the caller may see (its enterprise, team, operators) / 服务案例",
              "cases:list_cases", roles=ANY, response=CaseOut, many=True),
    Operation("get_case", "GET", "/windows/<window_id>/cases/<case_id>",
              "One case with team and log (enterprise, team, operators; 404 to anyone else) / 案例详情",
              "cases:get_case", roles=ANY, response=CaseOut),
    Operation("set_case_team", "PUT", "/windows/<window_id>/cases/<case_id>/team",
              "Replace the case team (operator) / 设置协同服务团队", "cases:replace_team", roles=OPERATORS,
              body=CaseTeamIn, response=CaseOut),
    Operation("add_case_log", "POST", "/windows/<window_id>/cases/<case_id>/log",
              "Add a case log entry: instrument selection, product development, technical problem "
              "(enterprise, team, operators) / 记录服务过程", "cases:add_log", roles=ANY, body=CaseLogIn,
              response=CaseOut, status=201, creates=True),
    Operation("close_case", "POST", "/windows/<window_id>/cases/<case_id>/close",
              "Close a case when its work is done; the enterprise is invited to evaluate it (operator) / 结束服务案例",
              "cases:close_case", roles=OPERATORS, response=CaseOut,
              description="Publishes case.closed with the finished-service block once; closing a closed case "
                          "returns it unchanged. / 结束后企业可对该案例进行评价。"),
)

TRAINING = (
    Operation("list_trainings", "GET", "/trainings", "Upcoming training events (public) / 培训活动",
              "training:list_upcoming", query=ListQuery, response=TrainingPageOut),
    Operation("create_training", "POST", "/trainings", "Publish a training event (operator) / 发布培训",
              "training:create_event", roles=OPERATORS, body=TrainingIn, response=TrainingOut, status=201,
              creates=True),
    Operation("get_training", "GET", "/trainings/<training_id>", "One training event (public) / 培训详情",
              "training:get_event", response=TrainingOut),
    # Signing up twice is not an error: the place already held comes back, with 200 instead of 201.
    Operation("sign_up_training", "POST", "/trainings/<training_id>/signups",
              "Sign up: confirmed while seats are free, else waiting list; once per user (200 when already "
              "signed up) / 培训报名", "training:sign_up", roles=CUSTOMER_ROLES, response=SignupOut,
              status=201, status_when={"already_signed_up": 200},
              problems={"409": "Training started or cancelled"}),
    Operation("my_training_signup", "GET", "/trainings/<training_id>/signups/mine",
              "My sign-up and waiting-list position / 我的报名", "training:my_signup", roles=ANY,
              response=SignupOut),
    Operation("cancel_training_signup", "DELETE", "/trainings/<training_id>/signups/mine",
              "Cancel my sign-up; the first on the waiting list moves up / 取消报名", "training:cancel", roles=ANY,
              response=SignupOut),
    Operation("list_training_signups", "GET", "/trainings/<training_id>/signups",
              "Sign-ups of a training: confirmed, waiting list in order, cancelled (operator) / 报名名单",
              "training:list_signups", roles=OPERATORS, response=SignupListOut),
    Operation("record_training_attendance", "POST", "/trainings/<training_id>/attendance",
              "Record who attended (confirmed participants only); publishes training.attended (operator) / "
              "登记培训出勤", "training:record_attendance", roles=OPERATORS, body=AttendanceIn,
              response=AttendanceOut,
              description="Once the training has started. Every user id must be a confirmed sign-up, or nothing is "
                          "written (422). Marking a participant again changes nothing. Booking grants the "
                          "training's qualification_code on every instrument requiring it.",
              problems={"404": "No such training", "409": "Not started yet, or cancelled",
                        "422": "A user id is not a confirmed participant"}),
)

OPERATIONS = CATALOGUE + APPLICATIONS + INSTITUTIONS + WINDOWS + TRAINING
