"""Routes of the identity service (until its contract lands: services/identity/contract)."""
from __future__ import annotations

from services.identity import schemas as identity

from .routing import Route

STAFF_READERS = ("operator", "admin", "regulator")
REGISTRATION_ERRORS = {
    "409": "Username taken, or these identity details cannot be registered (registration_conflict; which detail "
           "is not said) / 用户名已占用或身份信息无法注册",
    "429": "Too many refused registrations from this network / 注册尝试过多",
}


# -- identity -----------------------------------------------------------------
def register_enterprise(ctx):
    return 201, ctx.call("identity", "register", {**ctx.body, "kind": "enterprise"},
                         idempotency_key=ctx.idempotency_key, ip=ctx.client_ip)


def register_person(ctx):
    return 201, ctx.call("identity", "register", {**ctx.body, "kind": "person"}, idempotency_key=ctx.idempotency_key,
                         ip=ctx.client_ip)


def login(ctx):
    return ctx.call("identity", "login", ctx.body["username"], ctx.body["password"], ip=ctx.client_ip)


def refresh(ctx):
    return ctx.call("identity", "refresh", ctx.body["refresh_token"], ip=ctx.client_ip)


def logout(ctx):
    ctx.call("identity", "logout")
    return 204, None


def request_phone_code(ctx):
    return 202, ctx.call("identity", "request_phone_code", purpose=ctx.body["purpose"])


def verify_phone(ctx):
    return ctx.call("identity", "verify_phone", ctx.body["code"])


def me(ctx):
    return ctx.call("identity", "me")


def list_users(ctx):
    return ctx.call("identity", "list_users", role=ctx.query.get("role"),
                    limit=ctx.query["limit"], cursor=ctx.query.get("cursor"))


def get_user(ctx):
    return ctx.call("identity", "get_user", ctx.path_params["user_id"],
                    reveal=ctx.query.get("reveal", False))


def create_staff(ctx):
    return 201, ctx.call("identity", "create_staff", ctx.body, idempotency_key=ctx.idempotency_key)


def change_role(ctx):
    return ctx.call("identity", "change_role", ctx.path_params["user_id"], ctx.body["role"],
                    window_id=ctx.body.get("window_id"), institution_id=ctx.body.get("institution_id"))


def set_status(ctx):
    return ctx.call("identity", "set_status", ctx.path_params["user_id"], ctx.body)


def find_user_by_phone(ctx):
    return ctx.call("identity", "find_user_by_phone", ctx.body["phone"])


# Verification levels (issue 8 point 7).
def upload_licence(ctx):
    return ctx.call("identity", "upload_licence", payload=ctx.body)


def my_licence(ctx):
    return ctx.call("identity", "my_licence")


def licence_queue(ctx):
    return ctx.call("identity", "licence_queue", status=ctx.query["status"],
                    limit=ctx.query["limit"])


def licence_file(ctx):
    return ctx.call("identity", "licence_file", user_id=ctx.path_params["user_id"])


def decide_licence(ctx):
    return ctx.call("identity", "decide_licence", user_id=ctx.path_params["user_id"],
                    payload=ctx.body)


def request_external_verification(ctx):
    return ctx.call("identity", "request_external_verification")


ROUTES = [
    Route("POST", "/auth/register/enterprise", register_enterprise, "Register an enterprise (real name by USCC) / 企业注册",
          "identity", body=identity.RegisterEnterprise, response=identity.UserOut, status=201, idempotent_create=True,
          extra_responses=REGISTRATION_ERRORS),
    Route("POST", "/auth/register/person", register_person, "Register a person (real name by ID number) / 个人注册",
          "identity", body=identity.RegisterPerson, response=identity.UserOut, status=201, idempotent_create=True,
          extra_responses=REGISTRATION_ERRORS),
    Route("POST", "/auth/login", login, "Sign in / 登录", "identity", body=identity.Login, response=identity.TokenOut,
          extra_responses={"401": "Wrong username or password / 用户名或密码错误", "429": "Too many attempts / 尝试过多"}),
    Route("POST", "/auth/refresh", refresh, "Rotate the refresh token / 刷新令牌", "identity", body=identity.Refresh,
          response=identity.TokenOut, extra_responses={"401": "Refresh token invalid, expired or reused"}),
    Route("POST", "/auth/logout", logout, "Sign out: revokes the session / 退出登录", "identity", roles=(), status=204),
    Route("POST", "/auth/phone/code", request_phone_code, "Send a one-time code to the account's mobile / 发送短信验证码",
          "identity", body=identity.PhoneCodeRequest, response=identity.PhoneCodeSent, roles=(), status=202,
          extra_responses={"429": "Rate limited / 发送过于频繁"}),
    Route("POST", "/auth/phone/verify", verify_phone, "Confirm the mobile with the code / 验证手机号", "identity",
          body=identity.PhoneCodeVerify, response=identity.MeOut, roles=()),
    Route("GET", "/me", me, "The signed-in account / 当前账户", "identity", response=identity.MeOut, roles=()),
    Route("GET", "/users", list_users, "List accounts (staff) / 用户列表", "identity", query=identity.UserListQuery,
          response=identity.UserPage, roles=STAFF_READERS),
    Route("POST", "/users", create_staff, "Create a staff account (admin) / 创建工作人员账户", "identity",
          body=identity.CreateStaff, response=identity.UserOut, roles=("admin",), status=201, idempotent_create=True),
    Route("POST", "/users/lookup-by-phone", find_user_by_phone, "Find an account by mobile (audited) / 按手机号查找",
          "identity", body=identity.FindByPhone, response=identity.UserPage, roles=("operator", "admin")),
    Route("GET", "/users/<user_id>", get_user, "One account; reveal=true unmasks for permitted roles (audited) / 用户详情",
          "identity", query=identity.UserQuery, response=identity.UserOut, roles=()),
    Route("PUT", "/users/<user_id>/status", set_status, "Disable or re-enable an account (audited; disabling ends "
          "its sessions) / 停用或启用账号", "identity", body=identity.StatusChange, response=identity.UserOut,
          roles=("operator", "admin")),
    Route("PUT", "/me/licence", upload_licence, "Upload (or resubmit) the business licence for review / 上传营业执照",
          "identity", body=identity.LicenceUpload, response=identity.LicenceReviewOut, roles=("enterprise",),
          description="Needs a verified phone. PDF, JPEG or PNG (by content), at most 10 MiB. Reviewed within the "
                      "working days of SLA rule identity.licence_review; approval raises verification_level to "
                      "licence_reviewed (in the access token after the next refresh).",
          extra_responses={"409": "Phone not verified, under review, or already approved / 手机未验证、审核中或已通过"}),
    Route("GET", "/me/licence", my_licence, "My business licence review / 我的营业执照审核", "identity",
          response=identity.LicenceReviewOut, roles=("enterprise",),
          extra_responses={"404": "No licence uploaded yet / 尚未上传"}),
    Route("POST", "/me/external-verification", request_external_verification,
          "Ask the configured external verifier to confirm my identity / 申请外部核验", "identity",
          response=identity.ExternalVerificationOut, roles=("enterprise", "person"),
          extra_responses={"409": "Not applicable, phone not verified, or already verified / 不适用或未验证手机",
                           "501": "No external verifier configured / 未配置外部核验",
                           "503": "The external verifier failed / 外部核验服务不可用"}),
    Route("GET", "/licence-reviews", licence_queue, "Business licences by review state (staff) / 营业执照审核队列",
          "identity", query=identity.LicenceQueueQuery, response=identity.LicenceQueueOut, roles=STAFF_READERS),
    Route("GET", "/licence-reviews/<user_id>/file", licence_file, "The uploaded licence file (audited) / 营业执照文件",
          "identity", response=identity.LicenceFileOut, roles=("operator", "admin"),
          extra_responses={"404": "No such review or file / 无此审核或文件"}),
    Route("POST", "/licence-reviews/<user_id>/decision", decide_licence,
          "Approve a licence, or return it with a reason / 审核营业执照：通过或退回", "identity",
          body=identity.LicenceDecision, response=identity.LicenceReviewOut, roles=("operator", "admin"),
          extra_responses={"404": "No such review / 无此审核", "409": "Not awaiting review / 不在待审核状态"}),
    Route("PUT", "/users/<user_id>/role", change_role, "Change an account's role (admin, audited) / 变更角色",
          "identity", body=identity.RoleChange, response=identity.UserOut, roles=("admin",)),
]
