"""The local gateway's page half (`devstack.site`): files of the web build, `/config.json`, headers."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from werkzeug.test import Client, EnvironBuilder
from werkzeug.wrappers import Request, Response

from custody.declared import web
from devstack.site import Site, WebConfig, is_page_request, page_headers

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse

CONFIG = WebConfig(
    region="us-east-1",
    cognito_endpoint="http://127.0.0.1:5000",
    customer_pool=("us-east-1_customers", "customer-client"),
    staff_pool=("us-east-1_staff", "staff-client"),
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    built = tmp_path / "web"
    (built / "assets").mkdir(parents=True)
    (built / "console").mkdir()
    (built / "docs").mkdir()
    (built / "index.html").write_text("<!doctype html><title>center</title>")
    (built / "console" / "index.html").write_text("<!doctype html><title>console</title>")
    (built / "docs" / "index.html").write_text("<!doctype html><title>docs</title>")
    (built / "assets" / "privacy-center.js").write_text("export {};")
    (built / "base.css").write_text("body{}")
    (tmp_path / "secret.txt").write_text("outside the root")
    (built / "escape.txt").symlink_to(tmp_path / "secret.txt")
    return built


def _client(root: Path) -> Client:
    site = Site(CONFIG, root)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        assert is_page_request(request)
        return site.handle(request)(environ, start_response)

    return Client(app, Response)


@pytest.mark.parametrize(
    ("path", "content_type", "title"),
    [
        ("/", "text/html; charset=utf-8", b"center"),
        ("/index.html", "text/html; charset=utf-8", b"center"),
        ("/console/", "text/html; charset=utf-8", b"console"),
        ("/assets/privacy-center.js", "text/javascript; charset=utf-8", b"export"),
        ("/base.css", "text/css; charset=utf-8", b"body"),
    ],
)
def test_files_are_served_with_their_content_type(root: Path, path: str, content_type: str, title: bytes) -> None:
    reply = _client(root).get(path)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == content_type
    assert title in reply.data


def test_head_answers_the_headers_without_a_body(root: Path) -> None:
    reply = _client(root).head("/")
    assert reply.status_code == 200
    assert reply.data == b""
    assert reply.headers["Content-Security-Policy"] == web.content_security_policy(CONFIG.connect_sources)


def test_a_directory_without_its_slash_is_redirected_to_it(root: Path) -> None:
    reply = _client(root).get("/console")
    assert reply.status_code == 301
    assert reply.headers["Location"] == "/console/"


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/assets/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/assets\\..\\..\\secret.txt",
        "/escape.txt",
        "/nothing-here.html",
        "/assets/",
        "/console/" + "a" * 300,  # a segment longer than a file name may be
        "/docs/" + "a/" * 3000,  # a path longer than the file system takes
        "/docs/nope",
    ],
)
def test_nothing_outside_the_build_nor_missing_is_served(root: Path, path: str) -> None:
    environ = EnvironBuilder(path="/").get_environ()
    environ["PATH_INFO"] = path  # as sent, no client-side normalisation
    site = Site(CONFIG, root)
    reply = site.handle(Request(environ))
    assert reply.status_code == 404
    body = json.loads(reply.get_data())
    assert body == {"error": "not_found", "message": "No such page.", "details": {}}
    assert b"outside the root" not in reply.get_data()


def test_config_json_is_the_local_stacks(root: Path) -> None:
    reply = _client(root).get("/config.json")
    assert reply.status_code == 200
    assert reply.headers["Cache-Control"] == "no-store"
    assert reply.json == {
        "region": "us-east-1",
        "apiBase": "",
        "cognitoEndpoint": "http://127.0.0.1:5000",
        "customerPool": {"userPoolId": "us-east-1_customers", "clientId": "customer-client"},
        "staffPool": {"userPoolId": "us-east-1_staff", "clientId": "staff-client"},
    }


@pytest.mark.parametrize("path", ["/", "/console/", "/assets/privacy-center.js", "/config.json", "/missing"])
def test_every_page_response_carries_exactly_the_declared_headers(root: Path, path: str) -> None:
    reply = _client(root).get(path)
    expected = web.security_headers(["http://127.0.0.1:5000"])
    assert {name: reply.headers.get(name) for name in expected} == expected


def test_the_api_reference_gets_its_own_policy(root: Path) -> None:
    reply = _client(root).get("/docs/")
    expected = web.security_headers(["http://127.0.0.1:5000"], api_reference=True)
    assert {name: reply.headers.get(name) for name in expected} == expected
    assert page_headers("/docs/", CONFIG.connect_sources) == expected
    assert page_headers("/", CONFIG.connect_sources) != expected


def test_without_a_cognito_endpoint_the_pages_connect_to_awss() -> None:
    deployed_like = WebConfig("eu-west-1", "", ("p", "c"), ("s", "d"))
    assert deployed_like.connect_sources == (web.cognito_endpoint("eu-west-1"),)


@pytest.mark.parametrize(
    ("method", "path", "page"),
    [
        ("GET", "/", True),
        ("HEAD", "/console/", True),
        ("GET", "/v1/me", False),
        ("GET", "/v1", False),
        ("POST", "/", False),
        ("GET", "/v1x", True),
    ],
)
def test_what_the_site_answers(method: str, path: str, page: bool) -> None:
    assert is_page_request(Request(EnvironBuilder(path=path, method=method).get_environ())) is page
