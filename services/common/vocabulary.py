"""Vocabularies shared by several services, declared once.

The service categories of the catalogue (clause 4.2.2.1), the kinds of technical
institution and the qualification types the registry records are used by the
registry (its models' check constraints and its schemas), by matching (search
facets, demand categories) and by the slices (booking instrument categories,
delivery report marks). Each service's own vocabularies stay in its contract.
"""
from __future__ import annotations

CATEGORIES = ("standardization", "metrology", "testing", "certification", "quality", "brand", "ip", "other")
CATEGORY_ZH = {"standardization": "标准化", "metrology": "计量", "testing": "检验检测", "certification": "认证认可",
               "quality": "质量管理", "brand": "品牌", "ip": "知识产权", "other": "其他"}

INSTITUTION_KINDS = ("lab", "metrology", "certification", "standardization", "ip_agency", "quality", "brand", "other")
INSTITUTION_KIND_ZH = {"lab": "检验检测实验室", "metrology": "计量技术机构", "certification": "认证机构",
                       "standardization": "标准化机构", "ip_agency": "知识产权代理机构", "quality": "质量服务机构",
                       "brand": "品牌服务机构", "other": "其他机构"}

# CMA: 检验检测机构资质认定; CNAS: 实验室认可; LEGAL_METROLOGY: 法定计量检定授权; CERT_BODY: 认证机构批准.
QUALIFICATION_TYPES = ("CMA", "CNAS", "LEGAL_METROLOGY", "CERT_BODY", "OTHER")

# Window kinds (clause 4.2.1): park stations, institution windows, enterprise windows.
WINDOW_KINDS = ("park_station", "institution", "enterprise")
