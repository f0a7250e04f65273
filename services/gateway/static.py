"""The web UI's built files (web/dist) at `/`, with the single-page app's fallback.

Vite names every asset under /assets/ by a hash of its content, so those are cached
for a year as immutable; index.html is what points at them, so it is revalidated on
every load (no-cache) and a new build is seen at once. Any other path that is not the
API gets index.html, so the app's own routes (/search, /demands/...) survive a reload.
"""
from __future__ import annotations

import mimetypes
from pathlib import Path

from werkzeug.security import safe_join
from werkzeug.utils import send_file
from werkzeug.wrappers import Response

from services.common import config
from services.common.errors import DomainError, NotFound

from .http import problem_response

DEFAULT_DIST = config.REPO_ROOT / "web" / "dist"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
SHORT = "public, max-age=3600"
# Not every system's mime table knows these; browsers refuse module scripts served as text/plain.
for _type, _ext in (("text/javascript", ".js"), ("text/javascript", ".mjs"), ("text/css", ".css"),
                    ("image/svg+xml", ".svg"), ("font/woff2", ".woff2"), ("font/woff", ".woff"),
                    ("application/json", ".map"), ("application/manifest+json", ".webmanifest")):
    mimetypes.add_type(_type, _ext)

NOT_BUILT = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>QI One-Stop</title>
<p>网页界面尚未构建：请运行 <code>bash deploy/build-web.sh</code>（需要 npm）。</p>
<p>The web UI is not built yet: run <code>bash deploy/build-web.sh</code> (needs npm).</p>
<p><a href="/api/v1/docs">API</a></p></html>"""


def dist_dir() -> Path:
    return Path(config.env("QI_WEB_DIST", str(DEFAULT_DIST)))


def _file(environ, path: Path, cache_control: str) -> Response:
    response = send_file(path, environ, mimetype=mimetypes.guess_type(path.name)[0], max_age=None, conditional=True,
                         etag=True)
    response.headers["Cache-Control"] = cache_control
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.pop("Content-Disposition", None)  # a page, not a download
    return response


def serve(request, path: str = "") -> Response:
    """The file at `path` under the dist folder, or index.html for an app route."""
    if request.method not in ("GET", "HEAD"):
        return problem_response(DomainError(f"{request.method} is not allowed on /{path} / 不支持该请求方法",
                                            code="method_not_allowed", status=405, title_zh="方法不允许",
                                            title_en="Method not allowed"), headers={"Allow": "GET, HEAD"})
    if path == "api" or path.startswith("api/"):
        # /api/... outside /api/v1 is an unknown endpoint, never the app.
        raise NotFound(f"No such endpoint: /{path} / 接口不存在", code="no_such_endpoint")
    root = dist_dir()
    index = root / "index.html"
    if not index.is_file():
        return Response(NOT_BUILT, status=503, content_type="text/html; charset=utf-8",
                        headers={"Cache-Control": REVALIDATE, "Retry-After": "60"})
    if path:
        candidate = safe_join(str(root), path)
        if candidate is not None and Path(candidate).is_file():
            cache = IMMUTABLE if path.startswith("assets/") else SHORT
            return _file(request.environ, Path(candidate), cache)
        if path.startswith("assets/"):
            # A missing hashed asset is a 404, not the app: a stale index would otherwise load HTML as script.
            raise NotFound(f"No such file: /{path} / 文件不存在", code="no_such_file")
    return _file(request.environ, index, REVALIDATE)
