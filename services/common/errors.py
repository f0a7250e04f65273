"""Domain errors: raised by services, carried over RPC, mapped to RFC 9457 by the gateway.

nameko serialises an exception as its class path and `args`; classes registered
with `deserialize_to_instance` are rebuilt on the caller's side, so the gateway
receives the very same exception type with its code and field errors.
"""
from __future__ import annotations

from nameko.exceptions import deserialize_to_instance


class DomainError(Exception):
    status = 400
    code = "bad_request"
    title_zh = "请求无效"
    title_en = "Bad request"
    # Seconds after which a retry may succeed (429, 503), or None.
    retry_after: int | None = None

    def __init__(self, detail: str = "", errors: dict | None = None, code: str | None = None,
                 status: int | None = None, title_zh: str | None = None, title_en: str | None = None,
                 retry_after: int | None = None):
        self.detail = detail or ""
        self.errors = errors or {}
        if code:
            self.code = code
        if status:
            # nameko turns non-string args into strings on the wire.
            self.status = int(status)
        if title_zh:
            self.title_zh = title_zh
        if title_en:
            self.title_en = title_en
        # nameko stringifies non-string args on the wire, so None comes back as "None".
        if retry_after not in (None, "None", ""):
            # Seconds; the gateway renders it as the Retry-After header (RFC 9110 §10.2.3).
            self.retry_after = max(1, int(float(retry_after)))
        # args are what nameko ships over RPC and passes back to __init__.
        super().__init__(self.detail, self.errors, self.code, self.status, self.title_zh, self.title_en,
                         self.retry_after)

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"

    def problem(self) -> dict:
        body = {
            "type": f"https://qi-one-stop.example.cn/problems/{self.code}",
            "title": f"{self.title_zh} / {self.title_en}",
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = self.errors
        if self.retry_after is not None:
            body["retry_after"] = self.retry_after
        return body


@deserialize_to_instance
class BadRequest(DomainError):
    pass


@deserialize_to_instance
class ValidationFailed(DomainError):
    status = 422
    code = "validation_error"
    title_zh = "参数校验失败"
    title_en = "Validation failed"


@deserialize_to_instance
class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"
    title_zh = "未认证或令牌无效"
    title_en = "Authentication required"


@deserialize_to_instance
class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title_zh = "无权执行该操作"
    title_en = "Forbidden"


@deserialize_to_instance
class VerificationLevelRequired(Forbidden):
    """The account's verification level is below what the action needs (verification_levels.REQUIRED).

    Built from (required, current, action, subject) alone, so nameko rebuilds it
    from its args on the caller's side.
    """

    code = "verification_level_required"
    title_zh = "实名核验等级不足"
    title_en = "Higher verification level required"

    def __init__(self, required: str = "", current: str | None = None, action: str = "", subject: str = "caller",
                 *_ignored):
        current = None if current in (None, "None", "") else current   # None crosses nameko as "None"
        whose_zh, whose_en = ("该企业账号", "The enterprise account") if subject == "enterprise" else ("您的账号", "Your account")
        now_en = current or "none"
        now_zh = current or "无"
        detail = (f"{whose_zh}实名核验等级为 {now_zh}，该操作（{action}）需要 {required} 及以上 / "
                  f"{whose_en} is verified to level '{now_en}'; {action or 'this action'} needs '{required}' or higher")
        super().__init__(detail)
        self.required_level, self.current_level, self.action, self.subject = required, current, action, subject
        self.args = (required, current, action, subject)

    def problem(self) -> dict:
        body = super().problem()
        body.update(required_level=self.required_level, current_level=self.current_level, action=self.action)
        return body


@deserialize_to_instance
class NotFound(DomainError):
    status = 404
    code = "not_found"
    title_zh = "资源不存在"
    title_en = "Not found"


@deserialize_to_instance
class Conflict(DomainError):
    status = 409
    code = "conflict"
    title_zh = "与当前状态冲突"
    title_en = "Conflict"


@deserialize_to_instance
class TooManyRequests(DomainError):
    status = 429
    code = "rate_limited"
    title_zh = "请求过于频繁"
    title_en = "Too many requests"
    # Every 429 says when to come back; raisers that know better pass retry_after.
    retry_after = 60


@deserialize_to_instance
class ServiceUnavailable(DomainError):
    status = 503
    code = "service_unavailable"
    title_zh = "服务暂不可用"
    title_en = "Service unavailable"


@deserialize_to_instance
class DeadlineExceeded(DomainError):
    status = 504
    code = "deadline_exceeded"
    title_zh = "调用方时限已过"
    title_en = "Caller's deadline passed"


@deserialize_to_instance
class CalendarYearMissing(DomainError):
    status = 503
    code = "calendar_year_missing"
    title_zh = "缺少该年度节假日安排"
    title_en = "Working-day calendar missing for that year"


# DomainError itself is registered too so that a bare raise still round-trips.
deserialize_to_instance(DomainError)
