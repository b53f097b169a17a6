"""The local gateway's API reference at `/docs/`: the files CloudFront serves, under the same headers.

`make web` builds the reference into `build/web/docs/` (the page, Swagger UI 5 from swagger-ui-dist,
the committed `docs/openapi.json`) and its script into `build/web/assets/api-docs.js`. This module
serves exactly those files, nothing rendered here, with the security headers `custody.declared.web`
declares (the API reference's variant under `/docs/`, the pages' for the script), as the deployed
distribution does (`infra.constructs.web`): `/docs` redirects to `/docs/`, a directory is its
`index.html`. Without a build the answer is a 404 that says to run `make web`.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Final

from werkzeug.wrappers import Response

from custody.declared import web
from devstack.paths import REPO_ROOT

WEB_ROOT: Final = REPO_ROOT / "build" / "web"
DOCS_PATH: Final = web.API_REFERENCE_PATH.rstrip("/")
# The reference's own script; the privacy center's static serving covers /assets/ as a whole.
SCRIPT_PATHS: Final = frozenset({"/assets/api-docs.js", "/assets/api-docs.js.map"})
CONTENT_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
}


def serves(path: str) -> bool:
    """Whether `path` is the API reference's (the gateway answers it here, before any route)."""
    return path == DOCS_PATH or path.startswith(web.API_REFERENCE_PATH) or path in SCRIPT_PATHS


def respond(path: str, region: str, root: Path = WEB_ROOT) -> Response:
    """The file of `path` below `root`, with the headers the deployed distribution sends for it."""
    headers = web.security_headers([web.cognito_endpoint(region)], api_reference=path.startswith(DOCS_PATH))
    if path == DOCS_PATH:
        return Response(status=301, headers={**headers, "Location": web.API_REFERENCE_PATH})
    relative = path.lstrip("/") + ("index.html" if path.endswith("/") else "")
    file = _inside(root, relative)
    if file is None:
        hint = "" if (root / ".built").is_file() else " (build/web is missing: run `make web`)"
        return Response(f"not found{hint}\n", status=404, content_type="text/plain; charset=utf-8", headers=headers)
    content_type = CONTENT_TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    return Response(file.read_bytes(), content_type=content_type, headers=headers)


def _inside(root: Path, relative: str) -> Path | None:
    """`root/relative` when it is a file below `root` (no `..` or symlink out of it), else None."""
    base = root.resolve()
    candidate = (base / relative).resolve()
    if base not in candidate.parents or not candidate.is_file():
        return None
    return candidate
