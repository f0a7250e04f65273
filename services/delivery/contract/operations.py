"""Every operation of the delivery service, declared once (the gateway routes and documents them)."""
from __future__ import annotations

from services.common.operations import Operation
from services.common.platform import ANY_SIGNED_IN, OPERATORS, PUBLIC, STAFF_READERS

from . import schemas_ledger as L
from . import schemas_reports as R
from . import schemas_samples as S
from .schemas_common import NUMBER_PATH

NUMBER = {"number": "^" + NUMBER_PATH + "$"}
INSTITUTIONS = ("institution", *OPERATORS)
STATIONS = ("window", *OPERATORS)
NOT_VERIFIED = {404: "No report matches this number and code (the same answer for both) / 报告编号或核验码不正确",
                429: "Too many failed verifications from this network / 核验失败过多，请稍后再试"}
OUT_OF_ORDER = {409: "custody_out_of_order: the step expected is named in errors.expected_step / 流转顺序错误"}

REPORTS = (
    Operation("register_report", "POST", "/reports", "Register an issued report / 登记检验检测报告",
              "reports:register", roles=INSTITUTIONS, body=R.ReportIn, response=R.RegisteredOut, status=201,
              creates=True, problems={409: "Number taken, or the superseded report is not valid / 编号已登记或被替代报告无效"},
              description="Checked against the institution's valid qualifications and published capabilities: "
                          "outside them the report is registered with scope=flagged and the reasons, never "
                          "silently. `supersedes` names the report a corrected one replaces. The verification "
                          "code is returned once."),
    Operation("list_reports", "GET", "/reports", "Reports (own, or all for staff) / 报告列表", "reports:list_reports",
              roles=ANY_SIGNED_IN, query=R.ReportQuery, response=R.ReportPage),
    Operation("get_report", "GET", "/reports/<number>", "A registered report / 报告详情", "reports:get_report",
              roles=ANY_SIGNED_IN, response=R.ReportOut, path_patterns=NUMBER),
    Operation("withdraw_report", "POST", "/reports/<number>/withdraw", "Withdraw a report / 撤回报告",
              "reports:withdraw", roles=INSTITUTIONS, body=R.WithdrawIn, response=R.ReportOut, path_patterns=NUMBER,
              problems={409: "Withdrawn already / 已撤回"},
              description="Everyone who verified it and left a contact is notified."),
    Operation("report_qr", "GET", "/reports/<number>/qr", "The signed QR code of a report / 报告防伪二维码",
              "reports:qr", roles=ANY_SIGNED_IN, response=R.QrOut, path_patterns=NUMBER),
    Operation("report_verifications", "GET", "/reports/<number>/verifications",
              "Verification counts and acceptances of a report / 报告核验统计", "verification:stats",
              roles=ANY_SIGNED_IN, response=R.VerificationStatsOut, path_patterns=NUMBER),
    Operation("verify_report", "POST", "/reports/<number>/verify", "Verify a report (no sign-in) / 报告真伪核验",
              "verification:verify_by_code", roles=PUBLIC, body=R.VerifyIn, response=R.VerifyOut,
              path_patterns=NUMBER, writes=True, problems=NOT_VERIFIED,
              description="Answers valid / superseded (with the successor) / withdrawn (reason, date) / expired. "
                          "A contact left is told if the report is later withdrawn."),
    Operation("verify_report_get", "GET", "/reports/<number>/verify", "Verify a report (no sign-in) / 报告真伪核验",
              "verification:verify_by_code", roles=PUBLIC, query=R.VerifyQuery, response=R.VerifyOut,
              path_patterns=NUMBER, writes=True, problems=NOT_VERIFIED),
    Operation("accept_report", "POST", "/reports/<number>/acceptances",
              "Record that a report was accepted for a purpose / 登记报告采信", "verification:accept", roles=PUBLIC,
              body=R.AcceptanceIn, response=R.AcceptanceOut, status=201, path_patterns=NUMBER,
              problems={**NOT_VERIFIED, 409: "The report is not valid / 报告当前无效"},
              description="An agency or a buyer accepting the report (re-test avoided, counted)."),
    Operation("verify_qr", "POST", "/verification/qr", "Verify a scanned report QR (no sign-in) / 扫码核验",
              "verification:verify_qr", roles=PUBLIC, body=R.QrVerifyIn, response=R.VerifyOut, problems=NOT_VERIFIED),
    Operation("verify_pdf", "POST", "/verification/pdf", "Verify a report PDF by its hash (no sign-in) / PDF 核验",
              "verification:verify_pdf", roles=PUBLIC, body=R.PdfVerifyIn, response=R.VerifyOut,
              problems=NOT_VERIFIED),
    Operation("verification_public_key", "GET", "/verification/public-key",
              "The public key verifying report QR codes offline / 二维码验签公钥", "reports:public_key",
              roles=PUBLIC, response=R.PublicKeyOut),
)

SAMPLES = (
    Operation("receive_sample", "POST", "/samples", "A park station receives a sample / 驿站接收样品",
              "samples:receive", roles=STATIONS, body=S.SampleIn, response=S.SampleOut, status=201, creates=True),
    Operation("list_samples", "GET", "/samples", "Samples and where each is / 样品及其位置", "samples:list_samples",
              roles=ANY_SIGNED_IN, query=S.SampleQuery, response=S.SamplePage),
    Operation("get_sample", "GET", "/samples/<sample_id>", "A sample with its chain of custody / 样品流转记录",
              "samples:get_sample", roles=ANY_SIGNED_IN, response=S.SampleOut),
    Operation("sample_label", "GET", "/samples/<sample_id>/label", "The sample's label as a QR code / 样品标签二维码",
              "samples:label", roles=ANY_SIGNED_IN, response=S.LabelOut),
    Operation("record_lab_step", "POST", "/samples/<sample_id>/lab-steps",
              "The lab records testing or the report issued / 机构登记检测进度", "samples:lab_step",
              roles=("institution",), body=S.LabStepIn, response=S.SampleOut, problems=OUT_OF_ORDER),
    Operation("deliver_report", "POST", "/samples/<sample_id>/report-delivery",
              "The report reached the enterprise / 报告交付企业", "samples:deliver_report",
              roles=("enterprise", "window"), body=S.DeliveryIn, response=S.SampleOut, problems=OUT_OF_ORDER),
    Operation("dispose_sample", "POST", "/samples/<sample_id>/disposition",
              "The sample was returned or disposed of / 样品退还或处置", "samples:dispose",
              roles=("enterprise", "window", "institution"), body=S.DispositionIn, response=S.SampleOut,
              problems=OUT_OF_ORDER),
    Operation("report_sample_exception", "POST", "/samples/<sample_id>/exceptions",
              "Report a custody exception / 登记流转异常", "samples:report_exception",
              roles=("window", "institution", *OPERATORS), body=S.ExceptionIn, response=S.SampleOut),
    Operation("create_manifest", "POST", "/manifests", "Pack samples into a transport manifest / 生成转运单",
              "samples:pack", roles=STATIONS, body=S.ManifestIn, response=S.ManifestOut, status=201, creates=True,
              problems=OUT_OF_ORDER),
    Operation("get_manifest", "GET", "/manifests/<manifest_id>", "A transport manifest / 转运单",
              "samples:get_manifest", roles=ANY_SIGNED_IN, response=S.ManifestOut),
    Operation("record_carrier_receipt", "POST", "/manifests/<manifest_id>/carrier-receipt",
              "The carrier took the manifest (its receipt) / 承运人签收", "samples:carrier_receipt",
              roles=("window", "institution", *OPERATORS), body=S.CarrierIn, response=S.ManifestOut,
              problems=OUT_OF_ORDER),
    Operation("accept_manifest", "POST", "/manifests/<manifest_id>/acceptance",
              "The lab accepts or rejects the manifest's samples / 实验室接收样品", "samples:lab_acceptance",
              roles=("institution",), body=S.AcceptIn, response=S.ManifestOut, problems=OUT_OF_ORDER),
)

LEDGER = (
    Operation("create_instrument", "POST", "/ledger/instruments", "Add a measuring instrument / 新增计量器具",
              "ledger:create", roles=("enterprise", *OPERATORS), body=L.InstrumentIn, response=L.InstrumentOut,
              status=201, creates=True, problems={409: "Serial in the ledger already / 出厂编号重复"}),
    Operation("list_instruments", "GET", "/ledger/instruments", "The metrology ledger / 计量器具台账",
              "ledger:list_instruments", roles=("enterprise", *STAFF_READERS), query=L.InstrumentQuery,
              response=L.InstrumentPage),
    Operation("get_instrument", "GET", "/ledger/instruments/<instrument_id>", "A measuring instrument / 计量器具",
              "ledger:get", roles=("enterprise", *STAFF_READERS), response=L.InstrumentOut),
    Operation("update_instrument", "PATCH", "/ledger/instruments/<instrument_id>",
              "Change a measuring instrument / 修改计量器具", "ledger:update", roles=("enterprise", *OPERATORS),
              body=L.InstrumentPatch, response=L.InstrumentOut,
              description="The next due date is never given: it follows from cert_date and interval_months."),
    Operation("request_calibration", "POST", "/ledger/calibration-requests",
              "Send due instruments for calibration (demands, one per type) / 一键送检", "ledger:request_calibration",
              roles=("enterprise",), body=L.CalibrationIn, response=L.CalibrationOut, status=201, creates=True),
    Operation("export_ledger", "GET", "/ledger/export", "Export the ledger as .xlsx / 导出台账", "ledger_xlsx:export_xlsx",
              roles=("enterprise", *STAFF_READERS), query=L.ExportQuery, response=L.FileOut),
    Operation("import_ledger", "POST", "/ledger/import", "Import the ledger from .xlsx / 导入台账",
              "ledger_xlsx:import_xlsx", roles=("enterprise", *OPERATORS), body=L.ImportIn, response=L.ImportOut,
              problems={422: "import_rows_invalid: errors by row and column; nothing was imported / 按行列列出错误，未导入"}),
    Operation("ledger_notifications", "GET", "/ledger/notifications",
              "Reminders and notices of the enterprise / 到期提醒", "ledger:notifications", roles=("enterprise",),
              response=L.NotificationOut, many=True),
)

OPERATIONS = REPORTS + SAMPLES + LEDGER
