"""The API explorer at /api/v1/docs: Swagger UI, served offline from the assets of the
pinned `swagger-ui-py` package (Swagger UI 5, which reads OpenAPI 3.1; no CDN), pointed at
/api/v1/openapi.json.

Try-it is on and the Authorize box keeps the bearer token across reloads
(persistAuthorization), so a caller can paste the access token from POST /auth/login once.
The validator badge is off: it would send the document to validator.swagger.io.
"""
from __future__ import annotations

import importlib.util
import mimetypes
from pathlib import Path

from werkzeug.utils import send_file
from werkzeug.wrappers import Response

from services.common.errors import NotFound

ASSETS_URL = "/api/v1/docs/assets/"
# Only what the page loads; the package also ships its own index.html and source maps.
ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
          "favicon-32x32.png", "favicon-16x16.png", "explorer.js")
ASSET_CACHE = "public, max-age=86400"
OWN_INIT = Path(__file__).with_name("explorer.js")
# The package's folder, found without importing it: only its static files are used.
SWAGGER_UI = Path(importlib.util.find_spec("swagger_ui").submodule_search_locations[0]) / "static"

PAGE = f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>QI One-Stop API · 质量基础设施一站式服务平台接口</title>
<link rel="stylesheet" href="{ASSETS_URL}swagger-ui.css">
<link rel="icon" type="image/png" href="{ASSETS_URL}favicon-32x32.png" sizes="32x32">
<style>body{{margin:0;font-family:system-ui,"Noto Sans CJK SC",sans-serif}}
.qi-intro{{padding:.8rem 1.2rem;background:#f3f6fa;border-bottom:1px solid #dde;font-size:14px}}</style>
</head>
<body>
<div class="qi-intro">
<p>接口文档与在线调试：先用 <code>POST /api/v1/auth/login</code> 取得 access token，再点 <b>Authorize</b> 填入（本浏览器会记住）。
错误以 <code>application/problem+json</code> 返回，含稳定的 <code>code</code>。
<a href="/">返回网站</a></p>
<p lang="en">API reference with try-it: sign in with <code>POST /api/v1/auth/login</code>, then paste the access token
under <b>Authorize</b> (this browser remembers it). Errors are <code>application/problem+json</code> with a stable
<code>code</code>. Machine-readable: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</p>
</div>
<div id="swagger-ui"></div>
<script src="{ASSETS_URL}swagger-ui-bundle.js"></script>
<script src="{ASSETS_URL}swagger-ui-standalone-preset.js"></script>
<script src="{ASSETS_URL}explorer.js"></script>
</body>
</html>
"""


def page() -> Response:
    return Response(PAGE, content_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"})


def asset(request, name: str) -> Response:
    if name not in ASSETS:
        raise NotFound(f"No such file: {ASSETS_URL}{name} / 文件不存在", code="no_such_file")
    path = OWN_INIT if name == "explorer.js" else SWAGGER_UI / name
    mimetype = "text/javascript" if name.endswith(".js") else mimetypes.guess_type(name)[0]
    response = send_file(path, request.environ, mimetype=mimetype, max_age=None, conditional=True, etag=True)
    response.headers["Cache-Control"] = ASSET_CACHE
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.pop("Content-Disposition", None)
    return response
