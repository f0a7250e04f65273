"""Every HTTP operation of the identity service, declared once.

The gateway builds its routes and the OpenAPI document from this table; the
service's pipeline (services.common.pipeline) exposes one RPC method per row
and runs the domain function named by `handler` ("module:function" in
services.identity). Operation names are the RPC method names and, with the tag,
the OpenAPI operationIds ("identity_<name>").
"""
from __future__ import annotations

from services.common.operations import Operation
from services.common.platform import ANY_SIGNED_IN, CUSTOMER_ROLES, OPERATORS, STAFF_READERS

from . import schemas as s
from . import schemas_licence as lic

ADMINS = ("admin",)
ENTERPRISES = ("enterprise",)
REGISTRATION_ERRORS = {
    "409": "Username taken, or these identity details cannot be registered (registration_conflict; which detail "
           "is not said) / 用户名已占用或身份信息无法注册",
    "429": "Too many refused registrations from this network / 注册尝试过多",
}

OPERATIONS = (
    # -- accounts and sessions -----------------------------------------------------------
    Operation("register_enterprise", "POST", "/auth/register/enterprise",
              "Register an enterprise (real name by USCC) / 企业注册", "registration:register_account",
              body=s.RegisterEnterprise, response=s.UserOut, status=201, creates=True,
              problems=REGISTRATION_ERRORS, fixed={"kind": "enterprise"}),
    Operation("register_person", "POST", "/auth/register/person",
              "Register a person (real name by ID number) / 个人注册", "registration:register_account",
              body=s.RegisterPerson, response=s.UserOut, status=201, creates=True,
              problems=REGISTRATION_ERRORS, fixed={"kind": "person"}),
    Operation("login", "POST", "/auth/login", "Sign in / 登录", "signin:login", body=s.Login, response=s.TokenOut,
              problems={"401": "Wrong username or password / 用户名或密码错误", "429": "Too many attempts / 尝试过多"}),
    Operation("refresh", "POST", "/auth/refresh", "Rotate the refresh token / 刷新令牌", "signin:refresh",
              body=s.Refresh, response=s.TokenOut,
              problems={"401": "Refresh token invalid, expired or reused"}),
    Operation("logout", "POST", "/auth/logout", "Sign out: revokes the session / 退出登录", "signin:logout",
              roles=ANY_SIGNED_IN, status=204),
    Operation("request_phone_code", "POST", "/auth/phone/code",
              "Send a one-time code to the account's mobile / 发送短信验证码", "verification:request_phone_code",
              roles=ANY_SIGNED_IN, body=s.PhoneCodeRequest, response=s.PhoneCodeSent, status=202,
              problems={"429": "Rate limited / 发送过于频繁"}),
    Operation("verify_phone", "POST", "/auth/phone/verify", "Confirm the mobile with the code / 验证手机号",
              "verification:verify_phone", roles=ANY_SIGNED_IN, body=s.PhoneCodeVerify, response=s.MeOut),
    Operation("me", "GET", "/me", "The signed-in account / 当前账户", "users:me", roles=ANY_SIGNED_IN,
              response=s.MeOut),
    Operation("list_users", "GET", "/users", "List accounts (staff) / 用户列表", "users:list_users",
              roles=STAFF_READERS, query=s.UserListQuery, response=s.UserPage),
    Operation("create_staff", "POST", "/users", "Create a staff account (admin) / 创建工作人员账户",
              "staff:create_staff", roles=ADMINS, body=s.CreateStaff, response=s.UserOut, status=201,
              creates=True),
    Operation("find_user_by_phone", "POST", "/users/lookup-by-phone",
              "Find an account by mobile (audited) / 按手机号查找", "users:find_user_by_phone", roles=OPERATORS,
              body=s.FindByPhone, response=s.UserPage),
    # A transaction although it reads: a reveal writes its audit entry.
    Operation("get_user", "GET", "/users/<user_id>",
              "One account; reveal=true unmasks for permitted roles (audited) / 用户详情", "users:get_user",
              roles=ANY_SIGNED_IN, query=s.UserQuery, response=s.UserOut, writes=True),
    Operation("set_status", "PUT", "/users/<user_id>/status",
              "Disable or re-enable an account (audited; disabling ends its sessions) / 停用或启用账号",
              "staff:set_status", roles=OPERATORS, body=s.StatusChange, response=s.UserOut),
    # -- business licence review and external verification (verification levels) --------
    Operation("upload_licence", "PUT", "/me/licence",
              "Upload (or resubmit) the business licence for review / 上传营业执照", "licence:upload_licence",
              roles=ENTERPRISES, body=lic.LicenceUpload, response=lic.LicenceReviewOut,
              description="Needs a verified phone. PDF, JPEG or PNG (by content), at most 10 MiB. Reviewed within "
                          "the working days of SLA rule identity.licence_review; approval raises "
                          "verification_level to licence_reviewed (in the access token after the next refresh).",
              problems={"409": "Phone not verified, under review, or already approved / 手机未验证、审核中或已通过"}),
    Operation("my_licence", "GET", "/me/licence", "My business licence review / 我的营业执照审核",
              "licence:my_licence", roles=ENTERPRISES, response=lic.LicenceReviewOut,
              problems={"404": "No licence uploaded yet / 尚未上传"}),
    # Not in a transaction: the external verifier is asked between a read and a write of its own.
    Operation("request_external_verification", "POST", "/me/external-verification",
              "Ask the configured external verifier to confirm my identity / 申请外部核验",
              "external:request_external_verification", roles=CUSTOMER_ROLES,
              response=lic.ExternalVerificationOut, writes=False,
              problems={"409": "Not applicable, phone not verified, or already verified / 不适用或未验证手机",
                        "501": "No external verifier configured / 未配置外部核验",
                        "503": "The external verifier failed / 外部核验服务不可用"}),
    Operation("licence_queue", "GET", "/licence-reviews",
              "Business licences by review state (staff) / 营业执照审核队列", "licence:licence_queue",
              roles=STAFF_READERS, query=lic.LicenceQueueQuery, response=lic.LicenceQueueOut),
    # A transaction although it reads: viewing the licence is audited.
    Operation("licence_file", "GET", "/licence-reviews/<user_id>/file",
              "The uploaded licence file (audited) / 营业执照文件", "licence:licence_file", roles=OPERATORS,
              response=lic.LicenceFileOut, writes=True,
              problems={"404": "No such review or file / 无此审核或文件"}),
    Operation("decide_licence", "POST", "/licence-reviews/<user_id>/decision",
              "Approve a licence, or return it with a reason / 审核营业执照：通过或退回", "licence:decide_licence",
              roles=OPERATORS, body=lic.LicenceDecision, response=lic.LicenceReviewOut,
              problems={"404": "No such review / 无此审核", "409": "Not awaiting review / 不在待审核状态"}),
    Operation("change_role", "PUT", "/users/<user_id>/role", "Change an account's role (admin, audited) / 变更角色",
              "staff:change_role", roles=ADMINS, body=s.RoleChange, response=s.UserOut),
)
