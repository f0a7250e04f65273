"""The API explorer at /api/v1/docs: Swagger UI from the pinned package, served offline."""
from __future__ import annotations

import re

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.common.errors import NotFound
from services.gateway import explorer

URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


def get(name: str):
    request = Request(EnvironBuilder(path=explorer.ASSETS_URL + name).get_environ())
    response = explorer.asset(request, name)
    response.direct_passthrough = False
    return response


def test_page_loads_only_its_own_assets():
    response = explorer.page()
    assert response.content_type == "text/html; charset=utf-8"
    html = response.get_data(as_text=True)
    refs = [a or b for a, b in URL.findall(html)]
    assert refs, "the page loads its scripts and styles"
    for ref in refs:
        assert ref.startswith("/"), f"{ref} is not served by the gateway"
        if ref.startswith(explorer.ASSETS_URL):
            assert get(ref[len(explorer.ASSETS_URL):]).status_code == 200
    assert "://" not in html, "no external URL"


def test_assets_have_their_content_types():
    assert get("swagger-ui-bundle.js").mimetype == "text/javascript"
    assert get("swagger-ui-standalone-preset.js").mimetype == "text/javascript"
    assert get("swagger-ui.css").mimetype == "text/css"
    assert get("favicon-32x32.png").mimetype == "image/png"
    script = get("explorer.js")
    assert script.mimetype == "text/javascript" and script.headers["X-Content-Type-Options"] == "nosniff"
    body = script.get_data(as_text=True)
    assert '"/api/v1/openapi.json"' in body
    assert "persistAuthorization: true" in body and "tryItOutEnabled: true" in body
    assert "validatorUrl: null" in body, "the validator badge would send the document out"
    assert "://" not in body
    assert len(get("swagger-ui-bundle.js").get_data()) > 500_000, "the real bundle, not a stub"


def test_only_listed_assets_are_served():
    for name in ("index.html", "swagger-ui-bundle.js.map", "..%2F__init__.py", "../__init__.py"):
        with pytest.raises(NotFound):
            get(name)
