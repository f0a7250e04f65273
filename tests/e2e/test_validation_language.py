"""Field messages in Chinese or English, chosen by Accept-Language (issue 8 point 12)."""
from __future__ import annotations


def test_gateway_validation_messages_follow_accept_language(api):
    default = api.post("/api/v1/auth/login", json={"password": "x"})
    assert default.status_code == 422
    assert default.headers["Content-Language"] == "zh-CN"
    assert default.json()["errors"] == {"username": ["缺少必填字段"]}
    english = api.post("/api/v1/auth/login", json={"password": "x", "extra": 1},
                       headers={"Accept-Language": "en-US,en;q=0.9"})
    assert english.headers["Content-Language"] == "en"
    assert english.json()["errors"] == {"username": ["Missing data for required field."],
                                        "extra": ["Unknown field."]}
    chinese = api.post("/api/v1/auth/register/person", json={"username": "x"}, headers={"Accept-Language": "zh-CN"})
    assert chinese.json()["errors"]["password"] == ["缺少必填字段"]
    assert chinese.json()["errors"]["username"] == ["用户名须以字母开头，3–64 位字母、数字或 _.-"]


def test_messages_written_by_a_service_follow_it_too(api):
    # A demand closed by staff as "rejected" needs a reason: the matching service says so, bilingual.
    operator = api.login("operator1")
    enterprise = api.login("ent-demo")
    demand = api.post("/api/v1/demands", token=enterprise, json={"title": "语言测试需求", "category": "metrology"})
    assert demand.status_code == 201, demand.text
    url = f"/api/v1/demands/{demand.json()['id']}/close"
    zh = api.post(url, token=operator, json={"outcome": "rejected"})
    en = api.post(url, token=operator, json={"outcome": "rejected"}, headers={"Accept-Language": "en"})
    assert zh.status_code == en.status_code == 422
    assert zh.json()["errors"]["note"] == ["必填"]
    assert en.json()["errors"]["note"] == ["required for outcome rejected"]
