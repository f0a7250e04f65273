"""Every HTTP operation of the booking slice, declared once."""
from __future__ import annotations

from services.common.operations import Operation
from services.common.platform import ANY_SIGNED_IN, CUSTOMER_ROLES, OPERATORS, PUBLIC

from . import schemas as s
from . import schemas_bookings as sb
from . import schemas_usage as su

INSTRUMENT_STAFF = ("institution",) + OPERATORS
BOOKERS = CUSTOMER_ROLES + ("institution",)   # customers, and institutions booking for their own staff
WINDOW_STAFF = ("window",) + OPERATORS
REFUSED = {404: "No such instrument (or booking)",
           409: "Another booking holds or took the slot (rules: slot.booked / slot.held)",
           422: "Invalid input, or the request breaks booking rules (errors.rules lists every rule id)"}
# Ids follow the gateway's default (routing.ID_PATTERN; user ids UUID_PATTERN); a feed token is URL-safe base64.
_ID = {"token": r"^[A-Za-z0-9_-]{20,64}$"}


def op(name, method, path, summary, handler, **kw):
    kw.setdefault("path_patterns", {k: v for k, v in _ID.items() if f"<{k}>" in path})
    return Operation(name, method, path, summary, handler, **kw)


OPERATIONS = (
    # -- instruments -------------------------------------------------------------------------
    op("list_instruments", "GET", "/instruments", "Search shared instruments / 共享仪器检索",
       "instruments:list_instruments", roles=PUBLIC, query=s.InstrumentQuery, response=s.InstrumentPage),
    op("publish_instrument", "POST", "/instruments", "List an instrument for booking / 发布共享仪器",
       "instruments:publish", roles=INSTRUMENT_STAFF, body=s.InstrumentIn, response=s.InstrumentOut, status=201,
       creates=True, problems={409: "The institution is not active on the platform"}),
    op("get_instrument", "GET", "/instruments/<instrument_id>", "An instrument with its rules / 仪器详情",
       "instruments:get_instrument", roles=PUBLIC, response=s.InstrumentOut),
    op("change_instrument", "PUT", "/instruments/<instrument_id>", "Change an instrument / 修改仪器信息与规则",
       "instruments:change", roles=INSTRUMENT_STAFF, body=s.InstrumentChange, response=s.InstrumentOut),
    op("withdraw_instrument", "POST", "/instruments/<instrument_id>/withdraw", "Withdraw an instrument / 仪器下架",
       "instruments:withdraw", roles=INSTRUMENT_STAFF, body=s.WithdrawIn, response=s.InstrumentOut),
    op("add_blackout", "POST", "/instruments/<instrument_id>/blackouts",
       "Add a blackout (maintenance, calibration) / 添加停机时段", "instruments:add_blackout",
       roles=INSTRUMENT_STAFF, body=s.BlackoutIn, response=s.InstrumentOut, status=201),
    op("instrument_availability", "GET", "/instruments/<instrument_id>/availability",
       "Every slot free/held/booked/closed, with rule ids / 可预约时段（含原因）", "instruments:availability",
       roles=PUBLIC, query=s.AvailabilityQuery, response=s.AvailabilityOut,
       description="Computed by the same rule engine that judges a booking request. Signed in, the caller's "
                   "weekly limit, qualification and suspension apply too."),
    op("grant_qualification", "POST", "/instruments/<instrument_id>/qualifications",
       "Grant a user the qualification to use it / 授予上机资质", "qualifications:grant",
       roles=INSTRUMENT_STAFF, body=s.GrantIn, response=s.QualificationOut, status=201,
       description="Staff grant; attending a registry training naming the instrument's qualification_code grants "
                   "it too (training.attended). Without it a user still books operator-assisted use where offered."),
    op("my_qualifications", "GET", "/booking-qualifications",
       "My instrument qualifications and their expiry / 我的上机资质", "qualifications:mine", roles=ANY_SIGNED_IN,
       response=s.QualificationOut, many=True),
    op("instrument_usage", "GET", "/instruments/<instrument_id>/usage",
       "Instrument hours of a month: booked against used / 机时统计", "instruments:usage",
       roles=INSTRUMENT_STAFF + ("regulator",), query=sb.UsageQuery, response=sb.UsageOut),
    # -- actual use (start/stop), reconciled with bookings ----------------------------------------
    op("start_booking_usage", "POST", "/bookings/<booking_id>/usage/start",
       "Use starts on a booking (checks it in) / 开始上机", "usage:start_booking_usage", roles=INSTRUMENT_STAFF,
       body=su.UsageAtIn, response=su.UsageRecordOut, status=201,
       problems={409: "Not confirmed, already started, or the instrument is in use",
                 422: "Outside the booking's time, or in the future"}),
    op("stop_booking_usage", "POST", "/bookings/<booking_id>/usage/stop",
       "Use stops: the booking completes from the stop time, fee from actual use / 结束上机并计费",
       "usage:stop_booking_usage", roles=INSTRUMENT_STAFF, body=su.UsageAtIn, response=su.UsageRecordOut,
       problems={409: "Use was not started, or already stopped", 422: "Before the start, or in the future"}),
    op("start_walk_in_usage", "POST", "/instruments/<instrument_id>/usage-records",
       "Staff start use on an instrument: linked to the booking covering the time, else flagged unbooked / "
       "登记现场使用", "usage:start_walk_in", roles=INSTRUMENT_STAFF, body=su.WalkInIn, response=su.UsageRecordOut,
       status=201, problems={409: "The instrument is in use or withdrawn", 422: "In the future"}),
    op("stop_usage_record", "POST", "/usage-records/<record_id>/stop", "Stop a running use / 结束使用",
       "usage:stop_record", roles=INSTRUMENT_STAFF, body=su.UsageAtIn, response=su.UsageRecordOut,
       problems={404: "No such usage record", 409: "Already stopped", 422: "Before the start, or in the future"}),
    op("list_usage_records", "GET", "/instruments/<instrument_id>/usage-records",
       "Actual use of an instrument, unbooked use flagged / 使用记录（含无预约使用）", "usage:list_records",
       roles=INSTRUMENT_STAFF, query=su.UsageRecordQuery, response=su.UsageRecordOut, many=True),
    # -- bookings ----------------------------------------------------------------------------
    op("request_booking", "POST", "/bookings", "Book an instrument / 预约仪器", "bookings:request_booking",
       roles=BOOKERS, body=sb.BookingIn, response=sb.BookingOut, status=201, creates=True, problems=REFUSED),
    op("list_bookings", "GET", "/bookings", "Bookings: mine, my institution's, or all (staff) / 预约列表",
       "bookings:list_bookings", roles=ANY_SIGNED_IN, query=sb.BookingQuery, response=sb.BookingOut, many=True),
    op("get_booking", "GET", "/bookings/<booking_id>", "A booking / 预约详情", "bookings:get_booking",
       roles=ANY_SIGNED_IN, response=sb.BookingOut),
    op("approve_booking", "POST", "/bookings/<booking_id>/approve", "Approve a request / 审批通过",
       "bookings:approve", roles=INSTRUMENT_STAFF, body=sb.ApproveIn, response=sb.BookingOut),
    op("reject_booking", "POST", "/bookings/<booking_id>/reject", "Reject a request with a reason / 驳回预约",
       "bookings:reject", roles=INSTRUMENT_STAFF, body=sb.RejectIn, response=sb.BookingOut),
    op("cancel_booking", "POST", "/bookings/<booking_id>/cancel",
       "Cancel (free before the deadline; institution/fault never charged) / 取消预约", "bookings:cancel",
       roles=ANY_SIGNED_IN, body=sb.CancelIn, response=sb.BookingOut,
       problems={403: "Only the institution declares an instrument fault"}),
    op("check_in_booking", "POST", "/bookings/<booking_id>/check-in", "Check in (staff, or the station code) / 签到",
       "bookings:check_in", roles=ANY_SIGNED_IN, body=sb.CheckInIn, response=sb.BookingOut),
    op("complete_booking", "POST", "/bookings/<booking_id>/complete",
       "Record actual use; the fee follows / 登记实际使用并计费", "bookings:complete", roles=INSTRUMENT_STAFF,
       body=sb.CompleteIn, response=sb.BookingOut),
    op("settle_booking", "POST", "/bookings/<booking_id>/settle",
       "Record the payment (innovation voucher number) / 登记结算", "bookings:settle", roles=INSTRUMENT_STAFF,
       body=sb.SettleIn, response=sb.BookingOut),
    op("lift_suspension", "POST", "/booking-suspensions/<user_id>/lift",
       "Lift a user's no-show suspensions / 解除爽约暂停", "suspensions:lift", roles=OPERATORS, response=sb.LiftOut),
    op("list_suspensions", "GET", "/booking-suspensions",
       "No-show suspensions: operators all, others their own / 爽约暂停列表", "suspensions:list_suspensions",
       roles=BOOKERS + OPERATORS, query=sb.SuspensionQuery, response=sb.SuspensionOut, many=True, writes=False),
    op("appeal_suspension", "POST", "/booking-suspensions/appeal",
       "Appeal my active no-show suspension to the operators / 对爽约暂停提出申诉", "suspensions:appeal",
       roles=BOOKERS, body=sb.AppealIn, response=sb.SuspensionOut,
       problems={"409": "No active suspension, or appealed already / 无可申诉的暂停或已申诉"}),
    op("decide_suspension_appeal", "POST", "/booking-suspensions/<suspension_id>/decision",
       "Decide an appeal: lift or uphold the suspension / 处理爽约暂停申诉", "suspensions:decide",
       roles=OPERATORS, body=sb.AppealDecisionIn, response=sb.SuspensionOut,
       problems={"409": "Not appealed, or decided already / 未申诉或已处理"}),
    # -- weekly series, waitlist, calendar feeds ----------------------------------------------
    op("preview_booking_series", "POST", "/booking-series/preview",
       "Preview a weekly series: every occurrence with its conflicts / 周期预约预览", "series:preview",
       roles=BOOKERS, body=sb.SeriesIn, response=sb.SeriesOut, writes=False, problems=REFUSED),
    op("book_booking_series", "POST", "/booking-series",
       "Book a weekly series, conflicts skipped / 提交周期预约（跳过冲突）", "series:book", roles=BOOKERS,
       body=sb.SeriesIn, response=sb.SeriesOut, status=201, creates=True, problems=REFUSED),
    op("join_waitlist", "POST", "/waitlist", "Wait for a taken time / 候补排队", "waitlist:join", roles=BOOKERS,
       body=sb.WaitlistIn, response=sb.WaitlistOut, status=201, creates=True,
       problems={404: "No such instrument", 409: "The time is free (book it directly)",
                 422: "Invalid input or other rules broken"}),
    op("list_waitlist", "GET", "/waitlist", "My waitlist entries and offers / 我的候补", "waitlist:mine",
       roles=ANY_SIGNED_IN, response=sb.WaitlistOut, many=True),
    op("accept_waitlist_offer", "POST", "/waitlist/<entry_id>/accept",
       "Accept the offer (held 2 hours) / 接受候补机会", "waitlist:accept", roles=ANY_SIGNED_IN,
       response=sb.BookingOut, problems=REFUSED),
    op("leave_waitlist", "POST", "/waitlist/<entry_id>/cancel", "Leave the waitlist / 取消候补", "waitlist:leave",
       roles=ANY_SIGNED_IN, response=sb.WaitlistOut),
    op("list_booking_notifications", "GET", "/booking-notifications",
       "My booking notifications (waitlist offers and their expiry) / 我的预约通知", "notices:mine",
       roles=ANY_SIGNED_IN, query=su.NotificationQuery, response=su.NotificationOut, many=True),
    op("read_booking_notification", "POST", "/booking-notifications/<notification_id>/read",
       "Mark a notification read / 标记已读", "notices:mark_read", roles=ANY_SIGNED_IN, response=su.NotificationOut),
    op("create_calendar_feed", "POST", "/calendar-feeds",
       "A private iCalendar feed of my bookings or an instrument's / 创建日历订阅", "calendar_feeds:create",
       roles=ANY_SIGNED_IN, body=sb.FeedIn, response=sb.FeedOut, status=201,
       problems={403: "An instrument's feed is for its institution's staff", 404: "No such instrument"}),
    op("revoke_calendar_feed", "POST", "/calendar-feeds/<token>/revoke", "Revoke a feed / 撤销日历订阅",
       "calendar_feeds:revoke", roles=ANY_SIGNED_IN, response=sb.FeedOut),
    op("calendar_feed", "GET", "/calendar-feeds/<token>", "The feed (RFC 5545 text/calendar) / 日历订阅内容",
       "calendar_feeds:render", roles=PUBLIC, media_type="text/calendar",
       description="The token is the secret. Nothing before approval; cancelled bookings appear as CANCELLED; "
                   "SEQUENCE rises with every change."),
    # -- appointments at windows -------------------------------------------------------------
    op("publish_appointment_slots", "POST", "/appointment-slots", "Publish window slots / 发布窗口预约时段",
       "appointments:publish_slots", roles=WINDOW_STAFF, body=sb.SlotsIn, response=sb.AppointmentSlotOut, many=True,
       status=201),
    op("list_appointment_slots", "GET", "/appointment-slots", "Open window slots / 窗口可预约时段",
       "appointments:list_slots", roles=PUBLIC, query=sb.SlotQuery, response=sb.AppointmentSlotOut, many=True),
    op("book_appointment", "POST", "/appointments", "Book a window appointment / 预约窗口办事",
       "appointments:book", roles=CUSTOMER_ROLES, body=sb.AppointmentIn, response=sb.AppointmentOut,
       status=201, creates=True, problems={404: "No such slot", 409: "Full, or already one active appointment that day",
                                           422: "Invalid input, or outside 1..10 working days ahead"}),
    op("list_appointments", "GET", "/appointments", "Appointments: mine, my window's, or all / 窗口预约列表",
       "appointments:list_appointments", roles=ANY_SIGNED_IN, query=sb.AppointmentQuery, response=sb.AppointmentOut,
       many=True),
    op("cancel_appointment", "POST", "/appointments/<appointment_id>/cancel",
       "Cancel (up to 2 hours before) / 取消窗口预约", "appointments:cancel", roles=ANY_SIGNED_IN,
       response=sb.AppointmentOut),
    op("check_in_appointment", "POST", "/appointments/<appointment_id>/check-in", "Check in at the window / 窗口签到",
       "appointments:check_in", roles=WINDOW_STAFF, response=sb.AppointmentOut),
    op("complete_appointment", "POST", "/appointments/<appointment_id>/complete", "Served / 窗口办结",
       "appointments:complete", roles=WINDOW_STAFF, response=sb.AppointmentOut),
)
