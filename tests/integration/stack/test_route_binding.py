"""A function runs the route it authorized, for exactly the path that names it (issue 14).

Authorization is decided on the event's `httpMethod` and `resource`; the resolver dispatches on
its `path`. These hold every route of the catalog to both agreeing, and to path segments free of
control characters (Python's `$` matches before a final newline).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from custody.declared import catalog
from custody.declared.catalog import Audience
from devstack import events
from tests.integration.conftest import LocalStack

PARAMETERIZED = [route for route in catalog.ROUTES if "{" in route.path]
GROUP = {Audience.STAFF: "privacy_officer"}


def _claims(stack: LocalStack, route: catalog.Route) -> dict[str, str] | None:
    if route.audience is Audience.PUBLIC:
        return None
    groups = route.groups[:1]
    return events.cognito_claims(stack.resources, route.audience, str(uuid.uuid4()), groups=groups)


def _direct(stack: LocalStack, route: catalog.Route, path: str, parameters: dict[str, str]) -> dict[str, Any]:
    event = events.proxy_event(
        route,
        path,
        path_parameters=parameters,
        headers=[("Content-Type", "application/json")],
        body=None if route.method in ("GET", "DELETE") else "{}",
        claims=_claims(stack, route),
    )
    function = stack.resources.functions[route.function].name
    from devstack.gateway import lambda_invoker

    outcome = lambda_invoker(stack.clients("lambda"))(function, event)
    assert not outcome.errored, outcome.error_type
    answer: dict[str, Any] = outcome.result()
    return answer


def _concrete(route: catalog.Route, suffix: str = "") -> tuple[str, dict[str, str]]:
    parameters = {part[1:-1]: str(uuid.uuid4()) + suffix for part in route.path.split("/") if part.startswith("{")}
    return route.path.format(**parameters), parameters


@pytest.mark.parametrize("route", PARAMETERIZED, ids=lambda route: route.key)
@pytest.mark.parametrize("control", ["\n", "\r", "\x00", "\t"], ids=repr)
def test_a_control_character_in_a_path_parameter_is_no_such_route(
    local_stack: LocalStack, route: catalog.Route, control: str
) -> None:
    path, parameters = _concrete(route, control)
    answer = _direct(local_stack, route, path, parameters)
    assert answer["statusCode"] == 404, answer


@pytest.mark.parametrize("route", catalog.ROUTES, ids=lambda route: route.key)
def test_an_event_whose_path_is_another_routes_is_no_such_route(local_stack: LocalStack, route: catalog.Route) -> None:
    """Authorized for `route`, asking for every other route of the same function: never run."""
    for other in catalog.routes_of(route.function):
        if other.path == route.path:  # the same path by another method is this route's request
            continue
        path, _ = _concrete(other)
        _, parameters = _concrete(route)
        answer = _direct(local_stack, route, path, parameters)
        assert answer["statusCode"] == 404, (route.key, other.key, answer)


def test_a_trailing_newline_through_the_gateway_is_refused(local_stack: LocalStack) -> None:
    officer = local_stack.staff_token(f"nl-{uuid.uuid4().hex[:6]}@staff.example", "privacy_officer")
    headers = {"Authorization": f"Bearer {officer}", "Content-Type": "application/json"}
    assert local_stack.http.get(f"/v1/requests/{uuid.uuid4()}%0A").status_code == 404
    reply = local_stack.http.put("/v1/staff/processors/zeta%0A", headers=headers, data="{}")
    assert reply.status_code == 404, reply.get_data(as_text=True)


def test_a_user_token_without_a_uuid_subject_is_refused(local_stack: LocalStack) -> None:
    route = catalog.route("GET", "/v1/me")
    assert route is not None
    claims = events.cognito_claims(local_stack.resources, Audience.CUSTOMER, "not-a-uuid")
    answer = local_stack.invoke("GET", "/v1/me", claims)
    assert answer["statusCode"] == 401, answer


def test_media_types_are_case_insensitive(local_stack: LocalStack) -> None:
    token = local_stack.customer_token(f"mt-{uuid.uuid4().hex[:6]}@example.com")
    for content_type in ("Application/JSON", "APPLICATION/JSON; charset=utf-8"):
        reply = local_stack.http.post(
            "/v1/me/consents",
            headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
            data='{"purpose": "crm_core", "policy_version": "2026-11"}',
        )
        assert reply.status_code == 201, reply.get_data(as_text=True)


def test_a_body_over_api_gateways_quota_is_413_before_anything_runs(local_stack: LocalStack) -> None:
    reply = local_stack.http.post("/v1/me/consents", data=b"x" * (10 * 1024 * 1024 + 1))
    assert reply.status_code == 413
    assert reply.get_json()["error"] == "malformed_request"
