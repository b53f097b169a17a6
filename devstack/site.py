"""The web pages on the local gateway: files of `build/web` and a `/config.json` made from the local stack.

Deployed, CloudFront serves the pages from S3 with the response headers policy of
`custody.declared.web.security_headers` and forwards `/v1/*` to API Gateway; locally the gateway does
both on one origin, and this module is its page half:

* `GET`/`HEAD` of a path that is not the API's: the file under `build/web` (`make web`), `index.html`
  for a directory path (`/`, `/console/`), a path to a directory without its slash redirected to it;
  anything else a 404 in the API's error shape. The path is resolved under the root and refused
  when it leaves it (`..`, encoded or not, absolute paths, symbolic links pointing out).
* every page response carries exactly `security_headers(connect_sources)` (`api_reference=True` under
  `/docs/`); `connect_sources` is the Cognito endpoint the browser signs in against.
* `/config.json`: what the pages read at start (`WebConfig`): the region, the customer and staff
  pools' ids and app clients, and the Cognito endpoint — locally the moto server's URL.

Cognito from the browser: moto's server answers CORS itself (`flask_cors` over every backend, unless
`MOTO_DISABLE_GLOBAL_CORS`), and recognises the unsigned Cognito calls the browser makes
(`InitiateAuth`, `SignUp`, ...) by their `X-Amz-Target`; so the pages call it directly, as they call
`cognito-idp.<region>.amazonaws.com` deployed, with its URL as `cognitoEndpoint` and in `connect-src`.
Two things moto does not do (docs/local-stack.md): it accepts any sign-up confirmation code (Cognito
mails a real one), and its SRP sign-in does not check the password proof.
"""

from __future__ import annotations

import json
import mimetypes
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

from custody.declared import naming, web
from devstack.paths import REPO_ROOT
from devstack.resources import Resources

WEB_ROOT: Final = REPO_ROOT / "build" / "web"
API_PREFIX: Final = "/v1/"

# Content types by extension, not the host's mime.types (which differ between machines).
CONTENT_TYPES: Final[Mapping[str, str]] = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".webmanifest": "application/manifest+json",
}


@dataclass(frozen=True)
class WebConfig:
    """`/config.json`: the settings the pages read at start (camelCase on the wire)."""

    region: str
    cognito_endpoint: str
    customer_pool: tuple[str, str]  # user pool id, app client id
    staff_pool: tuple[str, str]
    api_base: str = ""

    def to_json(self) -> dict[str, Any]:
        """The document as the pages read it."""
        return {
            "region": self.region,
            "apiBase": self.api_base,
            "cognitoEndpoint": self.cognito_endpoint,
            "customerPool": {"userPoolId": self.customer_pool[0], "clientId": self.customer_pool[1]},
            "staffPool": {"userPoolId": self.staff_pool[0], "clientId": self.staff_pool[1]},
        }

    @property
    def connect_sources(self) -> tuple[str, ...]:
        """What `connect-src` must allow besides the origin: the Cognito endpoint the pages call."""
        return (self.cognito_endpoint or web.cognito_endpoint(self.region),)


def local_config(resources: Resources, aws_endpoint: str | None) -> WebConfig:
    """The local stack's `/config.json`: its pools, and moto's URL as the Cognito endpoint (AWS's without one)."""
    customer = resources.user_pools[naming.CUSTOMER_POOL]
    staff = resources.user_pools[naming.STAFF_POOL]
    return WebConfig(
        region=resources.region,
        cognito_endpoint=aws_endpoint or "",
        customer_pool=(customer.pool_id, customer.client_id),
        staff_pool=(staff.pool_id, staff.client_id),
    )


def page_headers(path: str, connect_sources: Sequence[str]) -> dict[str, str]:
    """The security headers of the page at `path`: the declared ones, the API reference's under `/docs/`."""
    reference = path == web.API_REFERENCE_PATH.rstrip("/") or path.startswith(web.API_REFERENCE_PATH)
    return web.security_headers(connect_sources, api_reference=reference)


def is_page_request(request: Request) -> bool:
    """Whether the site answers `request`: a GET or HEAD of a path outside the API's `/v1/`."""
    return request.method in ("GET", "HEAD") and not (request.path + "/").startswith(API_PREFIX)


class Site:
    """The files of `root` and the generated `/config.json`, with the pages' security headers."""

    def __init__(self, config: WebConfig, root: Path = WEB_ROOT) -> None:
        self.config = config
        self.root = root

    def handle(self, request: Request) -> Response:
        """Answer a page request (`is_page_request`)."""
        path = request.path
        headers = page_headers(path, self.config.connect_sources)
        if path == web.CONFIG_PATH:
            response = Response(json.dumps(self.config.to_json()), content_type="application/json")
            response.headers["Cache-Control"] = "no-store"
        else:
            response = self._file(path)
        for name, value in headers.items():
            response.headers[name] = value
        return response

    def resolve(self, path: str) -> Path | None:
        """The file under the root that `path` names (a directory's `index.html`), or None.

        None for anything that is not plainly below the root: `..` segments (decoded or not),
        backslashes, NUL, files whose real path (symbolic links followed) lies outside it, and names
        the file system refuses (a segment longer than it allows).
        """
        decoded = unquote(path)
        if "\x00" in decoded or "\\" in decoded or not decoded.startswith("/"):
            return None
        parts = [part for part in decoded.split("/") if part]
        if any(part in (".", "..") for part in parts):
            return None
        normalized = posixpath.normpath("/" + "/".join(parts))
        root = self.root.resolve()
        try:
            candidate = (root / normalized.lstrip("/")).resolve()
            if candidate != root and root not in candidate.parents:
                return None
            if candidate.is_dir():
                candidate = candidate / "index.html"
            return candidate if candidate.is_file() else None
        except OSError:  # a name the file system refuses (too long, ...): no such page
            return None

    def _file(self, path: str) -> Response:
        found = self.resolve(path)
        if found is None:
            return not_found()
        if not path.endswith("/") and found.name == "index.html" and not path.endswith("index.html"):
            response = Response(status=301)
            response.headers["Location"] = "/" + "/".join(part for part in path.split("/") if part) + "/"
            return response
        content_type = CONTENT_TYPES.get(found.suffix.lower()) or (
            mimetypes.guess_type(found.name)[0] or "application/octet-stream"
        )
        response = Response(found.read_bytes(), content_type=content_type)
        response.headers["Cache-Control"] = "no-cache"
        return response


def not_found() -> Response:
    """A 404 in the API's error shape."""
    body = {"error": "not_found", "message": "No such page.", "details": {}}
    return Response(json.dumps(body), status=404, content_type="application/json")
