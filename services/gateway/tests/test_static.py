"""The web UI's files at `/`: content types, cache headers, the SPA fallback, no escape."""
from __future__ import annotations

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.common.errors import NotFound
from services.gateway import static


@pytest.fixture
def dist(tmp_path, monkeypatch):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><div id=app></div>", encoding="utf-8")
    (tmp_path / "assets" / "index-AbC123.js").write_text("export{}", encoding="utf-8")
    (tmp_path / "assets" / "index-AbC123.css").write_text("body{}", encoding="utf-8")
    (tmp_path / "favicon.svg").write_text("<svg/>", encoding="utf-8")
    (tmp_path.parent / "secret.txt").write_text("no", encoding="utf-8")
    monkeypatch.setenv("QI_WEB_DIST", str(tmp_path))
    return tmp_path


def get(path: str, headers=None, method="GET"):
    request = Request(EnvironBuilder(path="/" + path, headers=headers, method=method).get_environ())
    response = static.serve(request, path)
    response.direct_passthrough = False
    return response


def test_index_is_revalidated_and_assets_are_immutable(dist):
    index = get("")
    assert index.status_code == 200 and index.mimetype == "text/html"
    assert index.headers["Cache-Control"] == "no-cache"
    script = get("assets/index-AbC123.js")
    assert script.mimetype == "text/javascript"    # module scripts refuse text/plain
    assert script.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert get("assets/index-AbC123.css").mimetype == "text/css"
    assert get("favicon.svg").mimetype == "image/svg+xml"
    assert "Content-Disposition" not in script.headers


def test_app_routes_fall_back_to_index(dist):
    for path in ("search", "demands/0d1eb7ec-0000-4000-8000-000000000000", "sla"):
        response = get(path)
        assert response.status_code == 200 and b'id=app' in response.get_data()
        assert response.headers["Cache-Control"] == "no-cache"


def test_conditional_get_answers_304(dist):
    etag = get("assets/index-AbC123.js").headers["ETag"]
    assert get("assets/index-AbC123.js", headers={"If-None-Match": etag}).status_code == 304


def test_api_paths_missing_assets_and_escapes_are_not_the_app(dist):
    with pytest.raises(NotFound):
        get("api/v2/anything")
    with pytest.raises(NotFound):
        get("assets/index-Gone99.js")
    escaped = get("../secret.txt")          # safe_join refuses: the app, never the file
    assert b"no" != escaped.get_data() and b"id=app" in escaped.get_data()


def test_not_built_says_how(tmp_path, monkeypatch):
    monkeypatch.setenv("QI_WEB_DIST", str(tmp_path / "missing"))
    response = get("")
    assert response.status_code == 503 and "build-web.sh" in response.get_data(as_text=True)


def test_other_methods_are_a_problem_json_405(dist):
    response = get("search", method="POST")
    assert response.status_code == 405 and response.mimetype == "application/problem+json"
    assert response.headers["Allow"] == "GET, HEAD"
