"""The `/docs` page of the local gateway, with no CDN (the machine may be offline).

When the `swagger_ui_bundle` package is installed, its Swagger UI assets are served from
`/docs/static/` and the page is the real Swagger UI over `/openapi.json`. Otherwise the page is
a small self-contained view of the same document: every operation by function, its audience,
whether it is built, its request schema, and a form to try it with a token.
"""

from __future__ import annotations

import html
import importlib
import json
import mimetypes
from pathlib import Path
from typing import Any, Final

from werkzeug.wrappers import Response

ASSET_PREFIX: Final = "/docs/static/"


def swagger_ui_dir() -> Path | None:
    """The directory of Swagger UI's assets from the `swagger_ui_bundle` package, if installed."""
    try:
        bundle = importlib.import_module("swagger_ui_bundle")
    except ImportError:
        return None
    path = Path(str(getattr(bundle, "swagger_ui_path", "")))
    return path if (path / "swagger-ui-bundle.js").is_file() else None


def asset(request_path: str) -> Response:
    root = swagger_ui_dir()
    name = request_path[len(ASSET_PREFIX) :]
    if root is None or not name or "/" in name or name.startswith("."):
        return Response("not found", status=404)
    file = root / name
    if not file.is_file():
        return Response("not found", status=404)
    return Response(file.read_bytes(), content_type=mimetypes.guess_type(name)[0] or "application/octet-stream")


def page(document: dict[str, Any]) -> str:
    return _swagger_page() if swagger_ui_dir() is not None else _plain_page(document)


def _swagger_page() -> str:
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>CRM Custody API (local)</title>
<link rel="stylesheet" href="{ASSET_PREFIX}swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{ASSET_PREFIX}swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({{url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true}});</script>
</body></html>"""


_STYLE: Final = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;color:#1b1b1b;padding:0 1rem}
h1{margin-bottom:.2rem}.note{color:#555}
details{border:1px solid #ddd;border-radius:6px;margin:.4rem 0;padding:.4rem .8rem}
summary{cursor:pointer}code{font-size:14px}.m{display:inline-block;width:4.5rem;font-weight:700}
.get{color:#0b7a0b}.post{color:#b35c00}.put{color:#1f5fbf}.patch{color:#7a3fb3}.delete{color:#b3261e}
.tag{font-size:12px;border-radius:4px;padding:1px 6px;margin-left:.4rem;background:#eee}
.todo{background:#fde7c5}pre{background:#f6f6f6;padding:.6rem;overflow:auto;max-height:24rem}
textarea,input{font:13px monospace;width:100%;box-sizing:border-box}
"""

_SCRIPT: Final = """
async function send(form){
  const out=form.querySelector('pre.out');const token=document.getElementById('token').value.trim();
  let path=form.dataset.path;
  for(const input of form.querySelectorAll('input.param')){
    path=path.replace('{'+input.name+'}',encodeURIComponent(input.value));}
  const headers={'Content-Type':'application/json'};if(token){headers['Authorization']='Bearer '+token;}
  const body=form.querySelector('textarea');
  const response=await fetch(path,{method:form.dataset.method,headers,body:body&&body.value?body.value:undefined});
  const text=await response.text();let shown=text;try{shown=JSON.stringify(JSON.parse(text),null,2);}catch(e){}
  out.textContent=response.status+' '+response.statusText+'\\n'+shown;return false;
}
"""


def _plain_page(document: dict[str, Any]) -> str:
    sections = []
    for tag in document.get("tags", []):
        items = []
        for path, methods in document.get("paths", {}).items():
            for method, operation in methods.items():
                if operation.get("tags") == [tag["name"]]:
                    items.append(_operation_html(path, method, operation))
        sections.append(
            f"<h2>{html.escape(tag['name'])}</h2><p class='note'>{html.escape(tag.get('description', ''))}</p>"
            + "".join(items)
        )
    info = document.get("info", {})
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(info.get('title', 'API'))} (local)</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(info.get('title', 'API'))}</h1>"
        "<p class='note'>Served by the local stack. Swagger UI's assets are not installed (no CDN offline), so "
        "this is a plain view of <a href='/openapi.json'>/openapi.json</a>. Get a token with "
        "<code>custody local token --email you@example.com</code>.</p>"
        "<label>Bearer token <input id='token' placeholder='eyJ...'></label>"
        + "".join(sections)
        + f"<script>{_SCRIPT}</script></body></html>"
    )


def _operation_html(path: str, method: str, operation: dict[str, Any]) -> str:
    built = operation.get("x-custody-status") != "not_implemented"
    badges = f"<span class='tag'>{html.escape(operation.get('x-custody-audience', ''))}</span>"
    if operation.get("x-custody-groups"):
        badges += f"<span class='tag'>groups: {html.escape(', '.join(operation['x-custody-groups']))}</span>"
    if not built:
        badges += "<span class='tag todo'>not built yet (501)</span>"
    params = "".join(
        f"<label>{html.escape(p['name'])} <input class='param' name='{html.escape(p['name'])}'></label>"
        for p in operation.get("parameters", [])
        if p.get("in") == "path"
    )
    request = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    body = (
        f"<p>Request body schema:</p><pre>{html.escape(json.dumps(request, indent=2))}</pre>"
        "<textarea rows='6' placeholder='{}'></textarea>"
        if request
        else ""
    )
    responses = ", ".join(sorted(operation.get("responses", {})))
    return (
        f"<details><summary><span class='m {method}'>{method.upper()}</span><code>{html.escape(path)}</code>{badges}"
        f"</summary><p>{html.escape(operation.get('description') or operation.get('summary', ''))}</p>"
        f"<p>Responses: {html.escape(responses)}</p>"
        f"<form data-method='{method.upper()}' data-path='{html.escape(path)}' onsubmit='return send(this),false'>"
        f"{params}{body}<button>Send</button><pre class='out'></pre></form></details>"
    )
