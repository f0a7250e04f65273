"""Example payloads of the registry's events (the `data` of an envelope), as the document shows them.

Each validates against its payload schema (services/registry/tests/unit/test_events.py)."""
from __future__ import annotations

import copy

INSTITUTION_APPLIED = {'application_id': '5a7c9e1b-2d4f-4a6c-8e0b-1c3d5e7f9a2b',
 'institution_id': '0b8f5c1e-3d2a-4f6b-9c8d-7e6f5a4b3c2d',
 'name': '泰州示例检测技术有限公司',
 'kind': 'lab',
 'categories': ['testing'],
 'submitted_at': '2026-09-30T02:00:00Z',
 'review_due_at': '2026-10-10T15:59:59.999999Z',
 'resubmission': False}

INSTITUTION_APPROVED = {'institution_id': '0b8f5c1e-3d2a-4f6b-9c8d-7e6f5a4b3c2d',
 'revision': 3,
 'snapshot': {'institution_id': '0b8f5c1e-3d2a-4f6b-9c8d-7e6f5a4b3c2d',
              'name': '泰州示例检测技术有限公司',
              'kind': 'lab',
              'uscc': '91321202MA1QXEXA2W',
              'region': '海陵区',
              'park': '海陵工业园区',
              'address': '泰州市海陵区示例路 1 号',
              'categories': ['testing'],
              'qualifications': [{'qualification_id': 'c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f',
                                  'type': 'CMA',
                                  'number': 'CMA-EXAMPLE-0001',
                                  'issuer': '江苏省市场监督管理局',
                                  'valid_from': '2024-01-01',
                                  'valid_to': '2030-12-31',
                                  'scope': '电工电器产品检验',
                                  'status': 'valid'}],
              'capabilities': [{'capability_id': 'd4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f70',
                                'category': 'testing',
                                'item_code': 'tst.matching',
                                'item_name': '产品检验检测服务匹配',
                                'product': '家用电器',
                                'parameter': '电气安全',
                                'method_standard': 'GB 4706.1-2005',
                                'price_yuan': '3200.00',
                                'cycle_working_days': 10,
                                'qualification_id': 'c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f'}],
              'status': 'active'}}

INSTITUTION_REJECTED = {'application_id': '5a7c9e1b-2d4f-4a6c-8e0b-1c3d5e7f9a2b',
 'institution_id': '0b8f5c1e-3d2a-4f6b-9c8d-7e6f5a4b3c2d',
 'reasons': ['营业执照已注销 / business licence revoked'],
 'rejected_at': '2026-10-08T03:00:00Z'}

INSTITUTION_RETURNED = {'application_id': '5a7c9e1b-2d4f-4a6c-8e0b-1c3d5e7f9a2b',
 'institution_id': '0b8f5c1e-3d2a-4f6b-9c8d-7e6f5a4b3c2d',
 'reasons': ['资质证书扫描件不清晰 / certificate scan unreadable'],
 'returned_at': '2026-10-08T03:00:00Z'}

INSTITUTION_CHANGED = copy.deepcopy(INSTITUTION_APPROVED)   # the whole profile again, the same shape

INSTITUTION_DEREGISTERED = {'institution_id': '0b8f5c1e-3d2a-4f6b-9c8d-7e6f5a4b3c2d',
 'revision': 4,
 'reason': '资质被撤销 / qualification revoked',
 'forced': True,
 'deregistered_at': '2026-11-02T06:30:00Z'}

QUALIFICATION_EXPIRING = {'institution_id': '0b8f5c1e-3d2a-4f6b-9c8d-7e6f5a4b3c2d',
 'qualification_id': 'c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f',
 'type': 'CMA',
 'number': 'CMA-EXAMPLE-0001',
 'valid_to': '2026-12-31',
 'days_left': 30}

CAPABILITY_PUBLISHED = copy.deepcopy(INSTITUTION_APPROVED)   # the whole profile again, the same shape

CATALOGUE_CHANGED = {'categories': [{'code': 'testing',
                 'name_zh': '检验检测服务',
                 'name_en': 'Inspection and testing',
                 'items': [{'code': 'tst.matching',
                            'name_zh': '产品检验检测服务匹配',
                            'name_en': 'Matching laboratories to product testing needs'}]}]}

CASE_CLOSED = {'case_id': '3f1c2a9e-6b7d-4e21-9a55-2d8c0f4b7e10',
 'window_id': 'ew-demo',
 'enterprise_user_id': '8d0b6f3e-2a41-4c7e-b1d9-5e6f7a8b9c01',
 'closed_at': '2026-11-20T06:30:00Z',
 'evaluation': {'service_type': 'window_case',
                'service_id': '3f1c2a9e-6b7d-4e21-9a55-2d8c0f4b7e10',
                'enterprise_id': '8d0b6f3e-2a41-4c7e-b1d9-5e6f7a8b9c01',
                'institution_id': None,
                'window_id': 'ew-demo',
                'handler_id': '5a7c9e1f-3b5d-4f60-8a2c-4e6f8a0b2c3d',
                'finished_at': '2026-11-20T06:30:00Z'}}

TRAINING_ATTENDED = {"training_id": "7b1d3f5a-9c2e-4a6b-8d0f-2e4c6a8b0d13",
                     "user_id": "11111111-1111-4111-8111-111111111111", "category_code": "testing",
                     "qualification_code": "icpms-operation", "attended_on": "2026-12-08"}

CASE_OPENED = {"case_id": "3f1c2a9e-6b7d-4e21-9a55-2d8c0f4b7e10", "window_id": "ew-demo",
               "enterprise_user_id": "8d0b6f3e-2a41-4c7e-b1d9-5e6f7a8b9c01", "opened_at": "2026-11-02T02:00:00Z"}

WINDOW_SERVICES_CHANGED = {"window_id": "ps-hlgy", "kind": "park_station", "institution_id": None,
                           "services": ["tst.matching", "met.calibration"], "changed_at": "2026-11-02T02:00:00Z"}
