"""The merged OpenAPI document: what API Gateway serves, from the functions' own documents."""

from __future__ import annotations

from typing import Any

from custody.declared import catalog, web
from custody.declared.restriction import UnderRestriction
from devstack import openapi
from devstack.paths import OPENAPI_DOC
from tests.integration.conftest import LocalStack

REFUSED, NO_CUSTOMER = UnderRestriction.REFUSED, UnderRestriction.NO_CUSTOMER


def test_docs_openapi_json_is_current() -> None:
    current = OPENAPI_DOC.read_text() if OPENAPI_DOC.exists() else ""
    assert current == openapi.render(openapi.build()), (
        "docs/openapi.json is stale: run `.venv/bin/custody openapi --write` and commit it"
    )


def test_every_declared_route_is_documented_with_its_audience() -> None:
    document = openapi.build()
    for route in catalog.ROUTES:
        operation = document["paths"][route.path][route.method.lower()]
        assert operation["x-custody-function"] == route.function
        assert operation["x-custody-audience"] == route.audience.value
        assert operation["x-custody-under-restriction"] == route.under_restriction.value
        if route.audience is catalog.Audience.PUBLIC:
            assert operation["security"] == []
        else:
            assert operation["security"] == [{route.audience.value: []}]
            assert "401" in operation["responses"]


def _document(path: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "paths": {
            path: {
                "post": {
                    "operationId": "op",
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Body"}}}},
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
        "components": {"schemas": {"Body": schema}},
    }


def test_schemas_that_clash_across_functions_are_renamed_and_unbuilt_routes_are_501() -> None:
    routes = (
        catalog.Route("POST", "/v1/a", "collect", catalog.Audience.CUSTOMER),
        catalog.Route("POST", "/v1/b", "staff", catalog.Audience.STAFF, ("auditor",), restriction=NO_CUSTOMER),
        catalog.Route("GET", "/v1/c/{thing_id}", "staff", catalog.Audience.STAFF, ("support",), restriction=REFUSED),
    )
    merged = openapi.merge(
        {"collect": _document("/v1/a", {"type": "string"}), "staff": _document("/v1/b", {"type": "integer"})},
        routes,
    )
    schemas = merged["components"]["schemas"]
    assert schemas["Body"] == {"type": "string"}
    assert schemas["staff__Body"] == {"type": "integer"}
    staff_body = merged["paths"]["/v1/b"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert staff_body == {"$ref": "#/components/schemas/staff__Body"}
    assert merged["paths"]["/v1/b"]["post"]["x-custody-groups"] == ["auditor"]
    unbuilt = merged["paths"]["/v1/c/{thing_id}"]["get"]
    assert unbuilt["x-custody-status"] == "not_implemented"
    assert "501" in unbuilt["responses"]
    assert unbuilt["parameters"][0]["name"] == "thing_id"


def test_the_gateway_serves_the_document_and_the_built_api_reference(local_stack: LocalStack) -> None:
    served = local_stack.http.get("/openapi.json")
    assert served.status_code == 200
    assert set(served.get_json()["paths"]) == {route.path for route in catalog.ROUTES}
    moved = local_stack.http.get("/docs")
    assert (moved.status_code, moved.headers["Location"]) == (301, "/docs/")
    page = local_stack.http.get("/docs/")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert b"/docs/swagger-ui-bundle.js" in page.data
    assert b"/assets/api-docs.js" in page.data
    declared = web.security_headers([web.cognito_endpoint(local_stack.gateway.region)], api_reference=True)
    assert {name: page.headers[name] for name in declared} == declared
    document = local_stack.http.get("/docs/openapi.json")
    assert document.status_code == 200
    assert document.get_json()["openapi"].startswith("3.1")
    assert local_stack.http.get("/docs/../pyproject.toml").status_code == 404
