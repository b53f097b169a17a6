"""The local stack's `custody local` commands (devstack's plugin of `custody`) and standard AWS clients
against the served stack."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from custody.declared import catalog, datamap, naming
from devstack.paths import REPO_ROOT
from ops import cli
from tests.integration.conftest import ServedStack


def _custody(*args: str) -> subprocess.CompletedProcess[str]:
    """`custody ...` in this process (fast); the console script itself is run once below."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(args), configure_logging=False)
    return subprocess.CompletedProcess(["custody", *args], status, out.getvalue(), err.getvalue())


def _get(url: str, token: str | None = None, method: str = "GET", body: bytes | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_token_for_a_customer_is_accepted_by_the_gateway(served_stack: ServedStack) -> None:
    issued = _custody(
        "local", "token", "--email", "cli-customer@example.com", "--state-dir", str(served_stack.state_dir)
    )
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert token.count(".") == 2
    status, _ = _get(f"{served_stack.info.api_url}/v1/me", token)
    assert status == 200


def test_token_for_staff_goes_through_mfa_and_carries_the_group(served_stack: ServedStack) -> None:
    state = str(served_stack.state_dir)
    auditor = _custody(
        "local", "token", "--staff", "cli-auditor@example.com", "--group", "auditor", "--state-dir", state
    )
    assert auditor.returncode == 0, auditor.stderr
    status, _ = _get(f"{served_stack.info.api_url}/v1/staff/processors", auditor.stdout.strip())
    assert status not in (401, 403), "an auditor may list processors"
    status, _ = _get(f"{served_stack.info.api_url}/v1/staff/change-requests", auditor.stdout.strip())
    assert status == 401, "change-request reviews are for privacy officers: no such scope in the token"


def test_token_with_no_stack_running_says_how_to_start_one(tmp_path: Path) -> None:
    result = subprocess.run(  # noqa: S603 - our own console script
        [
            sys.executable,
            "-m",
            "ops.cli",
            "local",
            "token",
            "--email",
            "x@example.com",
            "--state-dir",
            str(tmp_path),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "no local stack running: run `make up`" in result.stderr


def test_token_for_an_unknown_group_is_a_clear_error(served_stack: ServedStack) -> None:
    state = str(served_stack.state_dir)
    result = _custody("local", "token", "--staff", "s@example.com", "--group", "admins", "--state-dir", state)
    assert result.returncode == 2
    assert "unknown staff group 'admins'" in result.stderr


def test_standard_clients_see_the_stacks_resources(served_stack: ServedStack) -> None:
    clients = served_stack.clients()
    tables = set(clients("dynamodb").list_tables()["TableNames"])
    assert set(served_stack.info.resources.tables.values()) <= tables
    assert len(tables) == len(datamap.table_stores()) + len(datamap.OPERATIONAL_TABLES)
    machines = clients("stepfunctions").list_state_machines()["stateMachines"]
    assert [machine["stateMachineArn"] for machine in machines] == [
        served_stack.info.resources.state_machines[naming.ERASURE_STATE_MACHINE]
    ]
    functions = {item["FunctionName"] for item in clients("lambda").list_functions()["Functions"]}
    assert functions == {info.name for info in served_stack.info.resources.functions.values()}


def test_the_gateway_serves_docs_and_the_openapi_document(served_stack: ServedStack) -> None:
    status, body = _get(f"{served_stack.info.api_url}/openapi.json")
    assert status == 200
    assert {route.path for route in catalog.ROUTES} == set(json.loads(body)["paths"])
    status, body = _get(served_stack.info.docs_url)
    assert (status, b"<html" in body.lower() or b"<!doctype html" in body.lower()) == (200, True)


def test_token_for_a_processor_is_an_access_token_the_processor_routes_accept(served_stack: ServedStack) -> None:
    state = str(served_stack.state_dir)
    issued = _custody("local", "token", "--processor", "acme-mail", "--state-dir", state)
    assert issued.returncode == 0, issued.stderr
    url = f"{served_stack.info.api_url}/v1/processors/erasure-acks"
    status, _ = _get(url, issued.stdout.strip(), method="POST", body=b"{}")
    assert status not in (401, 403), "the processor authorizer accepts the processor pool's access token"
    customer = _custody("local", "token", "--email", "not-a-processor@example.com", "--state-dir", state)
    status, body = _get(url, customer.stdout.strip(), method="POST", body=b"{}")
    assert (status, json.loads(body)) == (401, {"error": "unauthenticated", "message": "Unauthorized", "details": {}})


def test_up_prints_where_the_privacy_center_and_the_console_are(served_stack: ServedStack) -> None:
    banner = served_stack.log.read_text()
    api = served_stack.info.api_url
    assert f"privacy center  {api}/\n" in banner
    assert f"console         {api}/console/\n" in banner
    status, body = _get(f"{api}/")
    assert status == 200
    assert b"/assets/privacy-center.js" in body
