"""Demo data for a local run: catalogue, guides for every item, a Taizhou (泰州) set of
institutions across all 8 categories, 3 park stations and some windows.

    python -m services.registry.demo        # after `python -m services.common.migrate registry`

Idempotent: what exists is left alone. Institutions are created already approved
through `institutions.create_institution`, so each still publishes
`institution.approved` and matching indexes it like a reviewed one. Names are
invented; USCCs carry a computed GB 32100 check character.
"""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from stdnum.cn import uscc as uscc_check

from services.common.db import Database

from services.common.errors import CalendarYearMissing
from services.common.workdays import SHANGHAI, add_working_days

from . import catalogue, guides, institutions, training, windows
from .models import CatalogItem, GuideVersion, Institution, TrainingEvent, Window

SYSTEM = {"user_id": "system-demo", "role": "operator", "sid": None, "ip": None}
# Stable ids so a second run finds the same institutions (uuid5 of the USCC).
NAMESPACE = uuid.UUID("6f1d0c52-52a4-4e5e-9d0b-2b9f2f0a7c11")

PARKS = ("泰州医药高新区", "海陵工业园区", "姜堰经济开发区")


def _uscc(n: int) -> str:
    body = f"12321200MB{n:07d}"[:17]
    return body + uscc_check.calc_check_digit(body)


def _q(type_, number, issuer, scope, valid_to="2028-06-30", valid_from="2022-07-01", ref="q1"):
    return {"ref": ref, "type": type_, "number": number, "issuer": issuer, "valid_from": valid_from,
            "valid_to": valid_to, "scope": scope}


def _c(category, item, product, parameter, standard, price, cycle, ref="q1"):
    return {"category": category, "item_code": item, "product": product, "parameter": parameter,
            "method_standard": standard, "price_yuan": price, "cycle_working_days": cycle, "qualification_ref": ref}


JSZJ = "江苏省市场监督管理局"
CNAS = "中国合格评定国家认可委员会"

# (name, kind, region, park, address, qualifications, capabilities)
INSTITUTIONS = [
    ("泰州市产品质量监督检验所", "lab", "海陵区", "海陵工业园区", "泰州市海陵区迎春西路 188 号",
     [_q("CMA", "221012340101", JSZJ, "电工电器、机械产品检验")],
     [_c("testing", "tst.matching", "家用电器", "电气安全", "GB 4706.1-2005", 3200, 10),
      _c("testing", "tst.matching", "计数抽样检验", "批质量判定", "GB/T 2828.1-2012", 800, 5)]),
    ("泰州市计量测试院", "metrology", "海陵区", None, "泰州市海陵区东进西路 16 号",
     [_q("LEGAL_METROLOGY", "(苏)法计(2021)12001号", JSZJ, "压力、温度、衡器法定计量检定")],
     [_c("metrology", "met.calibration", "压力表", "示值误差", "JJG 52-2013", 60, 3),
      _c("metrology", "met.calibration", "电子台秤", "称量误差", "JJG 539-2016", 80, 3),
      _c("metrology", "met.capability_lookup", "工作用玻璃液体温度计", "示值误差", "JJG 130-2011", 40, 3)]),
    ("泰州市标准化院", "standardization", "海陵区", None, "泰州市海陵区青年南路 39 号",
     [_q("OTHER", "TZBZ-2020-001", "泰州市市场监督管理局", "标准化技术服务")],
     [_c("standardization", "std.lookup", "标准文献", "标准有效性", "GB/T 19001-2016", 0, 1),
      _c("standardization", "std.drafting", "企业标准", "标准编写", "GB/T 1.1-2020", 5000, 20),
      _c("standardization", "std.self_declaration", "企业标准", "自我声明公开", "GB/T 35778-2017", 500, 5)]),
    ("江苏泰州质量认证中心", "certification", "高港区", None, "泰州市高港区永安洲镇工业园 8 号",
     [_q("CERT_BODY", "CNCA-R-2019-512", "国家认证认可监督管理委员会", "质量、环境、职业健康安全管理体系认证")],
     [_c("certification", "cert.certification", "质量管理体系", "体系认证", "GB/T 19001-2016", 18000, 30),
      _c("certification", "cert.certification", "环境管理体系", "体系认证", "GB/T 24001-2016", 16000, 30)]),
    ("泰州医药检测技术有限公司", "lab", "医药高新区", "泰州医药高新区", "泰州医药高新区药城大道 1 号",
     [_q("CMA", "221012340202", JSZJ, "药品包装材料、医疗器械检验"), _q("CNAS", "CNAS L12345", CNAS, "医疗器械",
                                                                    ref="q2")],
     [_c("testing", "tst.matching", "一次性使用输液器", "微粒污染", "GB 8368-2018", 2600, 15),
      _c("testing", "tst.rd_support", "医用口罩", "细菌过滤效率", "YY 0469-2011", 1200, 7, ref="q2")]),
    ("泰州市知识产权服务中心", "ip_agency", "海陵区", None, "泰州市海陵区凤凰西路 2 号",
     [_q("OTHER", "ZLDL-32120", "国家知识产权局", "专利代理")],
     [_c("ip", "ip.filing", "发明专利", "申请代理", "专利审查指南(2023)", 4500, 20),
      _c("ip", "ip.search", "专利", "检索分析", "GB/T 39551.1-2020", 3000, 10)]),
    ("泰州市质量协会", "quality", "海陵区", None, "泰州市海陵区鼓楼南路 158 号",
     [_q("OTHER", "ZLXH-2018-07", "泰州市民政局", "质量管理咨询与培训")],
     [_c("quality", "qm.diagnosis", "中小企业", "质量诊断", "GB/T 19580-2012", 6000, 15),
      _c("quality", "qm.training", "质量管理", "QC 小组培训", "T/CAQ 10201-2020", 800, 3)]),
    ("泰州品牌发展促进会", "brand", "姜堰区", "姜堰经济开发区", "泰州市姜堰区三水大道 98 号",
     [_q("OTHER", "PPCJ-2020-03", "泰州市民政局", "品牌培育服务")],
     [_c("brand", "brand.building", "企业品牌", "品牌培育", "GB/T 39654-2020", 8000, 20),
      _c("brand", "brand.trademark", "商标", "注册咨询", "商标审查审理指南", 600, 5)]),
    ("泰州市企业登记服务中心", "other", "海陵区", None, "泰州市海陵区府前路 8 号",
     [_q("OTHER", "QYDJ-2021-01", "泰州市行政审批局", "企业登记咨询")],
     [_c("other", "oth.company_registration", "企业设立登记", "咨询", "市场主体登记管理条例", 0, 1)]),
]

# More labs, metrology stations and consultancies, generated from a few patterns so every
# district and park has some and the set passes 30.
_EXTRA = [
    ("靖江市产品质量检验中心", "lab", "靖江市", None, "testing", "tst.matching", "船用阀门", "壳体强度", "GB/T 13927-2022", 1500, 7, "CMA"),
    ("泰兴市产品质量检验所", "lab", "泰兴市", None, "testing", "tst.matching", "精细化工产品", "含量测定", "GB/T 9722-2006", 900, 5, "CMA"),
    ("兴化市食品检验检测中心", "lab", "兴化市", None, "testing", "tst.matching", "不锈钢制品", "重金属迁移", "GB 4806.9-2016", 700, 5, "CMA"),
    ("姜堰区检验检测中心", "lab", "姜堰区", "姜堰经济开发区", "testing", "tst.matching", "汽车零部件", "盐雾试验", "GB/T 10125-2021", 1100, 8, "CNAS"),
    ("泰州高港电线电缆检测站", "lab", "高港区", None, "testing", "tst.matching", "电线电缆", "导体电阻", "GB/T 3956-2008", 650, 5, "CMA"),
    ("泰州海陵建材检测有限公司", "lab", "海陵区", "海陵工业园区", "testing", "tst.matching", "混凝土", "抗压强度", "GB/T 50081-2019", 300, 28, "CMA"),
    ("泰州医药高新区药包材检测中心", "lab", "医药高新区", "泰州医药高新区", "testing", "tst.rd_support", "药用玻璃瓶", "耐水性", "YBB 00362004-2015", 1800, 10, "CNAS"),
    ("泰州市纤维检验所", "lab", "海陵区", None, "testing", "tst.matching", "纺织品", "纤维含量", "GB/T 2910.11-2009", 260, 5, "CMA"),
    ("泰州特种设备检测研究院", "lab", "海陵区", None, "testing", "tst.matching", "压力容器", "无损检测", "NB/T 47013.2-2015", 2800, 10, "CMA"),
    ("泰州环境监测技术有限公司", "lab", "高港区", None, "testing", "tst.matching", "工业废水", "化学需氧量", "HJ 828-2017", 350, 5, "CMA"),
    ("靖江市计量测试所", "metrology", "靖江市", None, "metrology", "met.calibration", "压力表", "示值误差", "JJG 52-2013", 55, 3, "LEGAL_METROLOGY"),
    ("泰兴市计量测试所", "metrology", "泰兴市", None, "metrology", "met.calibration", "燃油加油机", "示值误差", "JJG 443-2023", 120, 3, "LEGAL_METROLOGY"),
    ("兴化市计量测试所", "metrology", "兴化市", None, "metrology", "met.calibration", "电子计价秤", "称量误差", "JJG 1070-2011", 50, 2, "LEGAL_METROLOGY"),
    ("姜堰区计量测试所", "metrology", "姜堰区", "姜堰经济开发区", "metrology", "met.ledger", "计量器具", "台账建立", "JJF 1112-2003", 2000, 10, "LEGAL_METROLOGY"),
    ("泰州华测校准技术有限公司", "metrology", "医药高新区", "泰州医药高新区", "metrology", "met.calibration", "恒温恒湿箱", "温度均匀度", "JJF 1101-2019", 450, 5, "CNAS"),
    ("泰州凤城认证服务有限公司", "certification", "海陵区", None, "certification", "cert.certification", "职业健康安全管理体系", "体系认证", "GB/T 45001-2020", 15000, 30, "CERT_BODY"),
    ("泰州CCC认证咨询中心", "certification", "高港区", None, "certification", "cert.consulting", "电器产品", "CCC 咨询", "CNCA-C01-01:2014", 3000, 10, "OTHER"),
    ("靖江市质量技术服务中心", "quality", "靖江市", None, "quality", "qm.diagnosis", "船舶配套企业", "5S 现场管理", "GB/T 19001-2016", 5000, 15, "OTHER"),
    ("泰兴市卓越绩效促进中心", "quality", "泰兴市", None, "quality", "qm.policy", "化工企业", "质量奖申报辅导", "GB/T 19580-2012", 10000, 30, "OTHER"),
    ("兴化市品牌建设服务中心", "brand", "兴化市", None, "brand", "brand.trademark", "地理标志产品", "申报咨询", "GB/T 17924-2008", 2000, 20, "OTHER"),
    ("泰州商标品牌指导站", "brand", "海陵区", "海陵工业园区", "brand", "brand.benchmarking", "企业品牌", "标杆观摩", "GB/T 29186.1-2012", 1000, 5, "OTHER"),
    ("泰州汇智专利代理事务所", "ip_agency", "医药高新区", "泰州医药高新区", "ip", "ip.filing", "实用新型专利", "申请代理", "专利审查指南(2023)", 2500, 15, "OTHER"),
    ("泰州知识产权运营有限公司", "ip_agency", "姜堰区", "姜堰经济开发区", "ip", "ip.pledge_financing", "专利权", "质押融资评估", "GB/T 42748-2023", 8000, 20, "OTHER"),
    ("泰州市药品不良反应监测中心", "other", "海陵区", None, "other", "oth.adverse_reaction", "药品", "不良反应咨询", "药品不良反应报告和监测管理办法", 0, 1, "OTHER"),
    ("泰州缺陷产品技术服务中心", "other", "高港区", None, "other", "oth.defect_report", "消费品", "缺陷风险评估", "GB/T 34400-2017", 3000, 15, "OTHER"),
    ("泰州团体标准服务中心", "standardization", "医药高新区", "泰州医药高新区", "standardization", "std.advancedness", "企业标准", "先进性评价", "GB/T 39001-2020", 3000, 10, "OTHER"),
]
_ISSUERS = {"CMA": JSZJ, "CNAS": CNAS, "LEGAL_METROLOGY": JSZJ, "CERT_BODY": "国家认证认可监督管理委员会",
            "OTHER": "泰州市市场监督管理局"}


def _all_institutions():
    yield from INSTITUTIONS
    for n, (name, kind, region, park, cat, item, product, param, std, price, cycle, qtype) in enumerate(_EXTRA):
        address = f"泰州市{region}{'园区路' if park else '人民路'} {20 + n} 号"
        quals = [_q(qtype, f"{qtype[:3]}-3212-{1000 + n}", _ISSUERS[qtype], f"{product}{param}",
                    # a few expire soon, so the sweep has something to warn about
                    valid_to="2026-12-31" if n % 9 == 0 else "2029-03-31")]
        yield name, kind, region, park, address, quals, [_c(cat, item, product, param, std, price, cycle)]


WINDOWS = [
    {"kind": "park_station", "code": "PS-YYGX", "name": "泰州医药高新区质量基础设施服务站", "region": "医药高新区",
     "address": "泰州医药高新区药城大道 1 号服务大厅", "contact": "0523-86000001", "opening_hours": "工作日 8:30-17:30",
     "services": ["tst.matching", "met.calibration", "ip.filing", "std.lookup"]},
    {"kind": "park_station", "code": "PS-HLGY", "name": "海陵工业园区服务站", "region": "海陵区",
     "address": "泰州市海陵区工业园区管委会一楼", "contact": "0523-86000002", "opening_hours": "工作日 8:30-17:30",
     "services": ["tst.matching", "qm.diagnosis", "brand.trademark"]},
    {"kind": "park_station", "code": "PS-JYJK", "name": "姜堰经济开发区服务站", "region": "姜堰区",
     "address": "泰州市姜堰区开发区服务中心 2 楼", "contact": "0523-86000003", "opening_hours": "工作日 9:00-17:00",
     "services": ["met.ledger", "tst.matching", "ip.pledge_financing"]},
    {"kind": "enterprise", "code": "EW-LHDQ", "name": "泰州示范电气企业服务窗口", "region": "高港区",
     "address": "泰州市高港区示范电气有限公司内", "contact": "0523-86000004", "opening_hours": "预约",
     "public": False, "services": ["tst.rd_support", "cert.certification"],
     "case_info": {"topic": "新能源开关柜研制", "team": ["泰州市产品质量监督检验所", "江苏泰州质量认证中心"]}},
]


def _guide(item: CatalogItem) -> dict:
    return {
        "title": f"{item.name_zh}办事指南",
        "acceptance_conditions": "在泰州市注册的企业、个体工商户及其他组织，已在平台完成实名注册。",
        "materials": ["统一社会信用代码营业执照（复印件加盖公章）", "服务需求说明", "经办人授权委托书"],
        "process_steps": ["线上提交或到窗口登记需求", "平台受理并匹配技术机构", "对接确定服务项目与周期", "服务实施",
                          "服务评价"],
        "time_limit_working_days": 3, "time_limit_note": "平台 1 个工作日内响应，3 个工作日内推荐机构",
        "fees": "平台服务免费；技术机构服务按其公示价格收取。",
        "channels": ["线上：泰州质量基础设施一站式服务平台", "窗口：各园区服务站", "电话：0523-12345"],
        "change_note": "初始版本",
    }


# Upcoming trainings, so that the trainings page and the sign-up are there to try: the two carrying
# a qualification grant it on booking's demo instruments that require it (ICP-MS, HPLC).
TRAININGS = [
    {"category_code": "testing", "title": "ICP-MS 上机操作培训", "mode": "onsite", "capacity": 20,
     "venue": "泰州医药高新区服务站 3 楼培训室", "qualification_code": "icpms-operation", "working_days": 5,
     "description": "电感耦合等离子体质谱仪的安全规程、开关机与日常校准；考核合格后可自助预约 ICP-MS。"},
    {"category_code": "testing", "title": "高效液相色谱仪（HPLC）上机培训", "mode": "onsite", "capacity": 12,
     "venue": "泰州市产品质量监督检验所 2 楼仪器室", "qualification_code": "hplc-operation", "working_days": 8,
     "description": "色谱柱维护、流动相配制与常见故障排查；出勤后取得 HPLC 上机资质。"},
    {"category_code": "standardization", "title": "企业标准化良好行为创建线上宣讲", "mode": "online",
     "capacity": 200, "online_url": "https://meeting.example.cn/qi-std-2026", "working_days": 3,
     "description": "GB/T 15496～15498 企业标准体系要求解读与创建流程。"},
]


def _training_day(today: dt.date, working_days: int) -> dt.date:
    """Some working days on; past the loaded calendar (next year's notice not yet out), some weekdays
    on: a date an operator picks for a demo training, not a time limit, so nothing is computed from it."""
    try:
        return add_working_days(today, working_days)
    except CalendarYearMissing:
        day = today
        while working_days:
            day += dt.timedelta(days=1)
            working_days -= day.weekday() < 5
        return day


def _trainings(db: Database) -> int:
    """The demo trainings not already upcoming (by title), at 09:30 Beijing time some working days on."""
    made = 0
    with db.transaction() as session:
        now = dt.datetime.now(dt.timezone.utc)
        upcoming = set(session.scalars(select(TrainingEvent.title).where(
            TrainingEvent.starts_at > now.replace(tzinfo=None), TrainingEvent.status == "published")))
        for spec in TRAININGS:
            if spec["title"] in upcoming:
                continue
            day = _training_day(now.astimezone(SHANGHAI).date(), spec["working_days"])
            starts = dt.datetime.combine(day, dt.time(9, 30), SHANGHAI)
            data = {k: v for k, v in spec.items() if k != "working_days"}
            training.create_event(session, SYSTEM, {**data, "starts_at": starts.isoformat(),
                                                    "ends_at": (starts + dt.timedelta(hours=3)).isoformat()})
            made += 1
    return made


def seed(db: Database) -> dict:
    summary = {"catalogue_rows": 0, "guides": 0, "institutions": 0, "windows": 0}
    with db.transaction() as session:
        summary["catalogue_rows"] = catalogue.ensure_loaded(session)
    with db.transaction() as session:
        with_guide = set(session.scalars(select(GuideVersion.item_code)))
        for item in session.scalars(select(CatalogItem)).all():
            if item.code not in with_guide:
                guides.publish(session, SYSTEM, item.code, _guide(item))
                summary["guides"] += 1
    for n, (name, kind, region, park, address, quals, caps) in enumerate(_all_institutions()):
        uscc = _uscc(n + 1)
        with db.transaction() as session:
            if session.scalars(select(Institution).where(Institution.uscc == uscc)).first() is not None:
                continue
            institutions.create_institution(
                session, SYSTEM, str(uuid.uuid5(NAMESPACE, uscc)),
                {"name": name, "kind": kind, "uscc": uscc, "region": region, "park": park, "address": address},
                quals, caps, at=dt.datetime(2026, 1, 5, 1, 0))
            summary["institutions"] += 1
    with db.transaction() as session:
        lab = session.scalars(select(Institution).where(Institution.name == "泰州市产品质量监督检验所")).first()
        wanted = WINDOWS + [{"kind": "institution", "code": "IW-TZZJ", "name": "泰州市产品质量监督检验所服务窗口",
                             "region": "海陵区", "address": "泰州市海陵区迎春西路 188 号一楼",
                             "contact": "0523-86000005", "opening_hours": "工作日 8:30-17:00",
                             "institution_id": lab.id if lab else None, "services": ["tst.matching"]}]
        for spec in wanted:
            if session.scalars(select(Window).where(Window.code == spec["code"])).first() is None:
                # The first park station is the window the identity demo's window1 is bound to.
                window_id = "demo-window-1" if spec["code"] == "PS-YYGX" else None
                windows.create(session, SYSTEM, {"public": True, "institution_id": None, "case_info": None, **spec},
                               window_id=window_id)
                summary["windows"] += 1
    summary["trainings"] = _trainings(db)
    return summary


def main() -> None:
    from services.common.db import engine_for

    print(seed(Database(engine_for("registry"))))


if __name__ == "__main__":
    main()
