"""The `ops` commands against the served stack, run as the console script an operator would run."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

from devstack.paths import REPO_ROOT
from ops import stack_file
from tests.e2e.test_local_commands import _custody, _get
from tests.integration.conftest import ServedStack


def _operator(served_stack: ServedStack, *args: str) -> subprocess.CompletedProcess[str]:
    """In its own process: `--local` points that process's AWS clients at the served stack."""
    command = [sys.executable, "-m", "ops.cli", *args, "--local", "--state-dir", str(served_stack.state_dir)]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603


def _wait(served_stack: ServedStack, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        status, body = _get(f"{served_stack.info.api_url}/v1/requests/{request_id}")
        assert status == 200
        parsed: dict[str, Any] = json.loads(body)
        if parsed["status"] in ("completed", "failed"):
            return parsed
        assert time.monotonic() < deadline
        time.sleep(0.2)


def _send(url: str, token: str, method: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - the local stack
        url, data=data, method=method, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def _customer_with_data(served_stack: ServedStack) -> str:
    email = f"operator-{uuid.uuid4().hex[:8]}@example.com"
    token = _custody("local", "token", "--email", email, "--state-dir", str(served_stack.state_dir)).stdout.strip()
    api = served_stack.info.api_url
    assert _send(f"{api}/v1/me/consents", token, "POST", {"purpose": "crm_core", "policy_version": "2026-11"})[0] == 201
    assert _send(f"{api}/v1/me/profile", token, "PUT", {"identity": {"legal_name": "Opal Operator"}})[0] == 200
    return token


def test_a_completed_erasure_is_rerun_only_with_force_and_stays_completed(served_stack: ServedStack) -> None:
    token = _customer_with_data(served_stack)
    status, body = _send(f"{served_stack.info.api_url}/v1/me/withdrawal", token, "POST")
    assert status == 202
    request_id = body["request_id"]
    first = _wait(served_stack, request_id)
    assert first["status"] == "completed"

    refused = _operator(served_stack, "erasure", "rerun", request_id)
    assert refused.returncode == 2
    assert "--force" in refused.stderr
    rerun = _operator(served_stack, "erasure", "rerun", request_id, "--force")
    assert rerun.returncode == 0, rerun.stderr
    assert f"{request_id}-rerun-1" in rerun.stdout
    time.sleep(1)
    again = _wait(served_stack, request_id)
    assert (again["status"], again["certificate_digest"]) == ("completed", first["certificate_digest"])


def test_the_restore_guard_runs_against_the_stack(served_stack: ServedStack) -> None:
    table = served_stack.info.resources.tables["profiles"]
    guarded = _operator(served_stack, "restore-guard", "--table", table, "--store", "profiles")
    assert guarded.returncode == 0, guarded.stderr
    assert "items removed:         0" in guarded.stdout
    wrong = _operator(served_stack, "restore-guard", "--table", table, "--store", "subjects")
    assert wrong.returncode == 2
    assert "table store of the data map" in wrong.stderr


def test_an_unknown_request_is_a_clear_error(served_stack: ServedStack) -> None:
    result = _operator(served_stack, "erasure", "rerun", str(uuid.uuid4()))
    assert result.returncode == 2
    assert "no erasure request" in result.stderr


def test_the_auditor_commands_name_an_unknown_request(served_stack: ServedStack) -> None:
    unknown = str(uuid.uuid4())
    shown = _operator(served_stack, "audit", "show", unknown)
    assert (shown.returncode, shown.stdout) == (2, "")
    assert shown.stderr == f"custody: no ledger events and no executions for {unknown}\n"
    verified = _operator(served_stack, "audit", "verify", unknown)
    assert (verified.returncode, verified.stderr) == (2, f"custody: the ledger holds no chain {unknown}\n")


def test_the_restore_guard_refuses_a_table_that_does_not_exist(served_stack: ServedStack) -> None:
    result = _operator(served_stack, "restore-guard", "--table", "crm-custody-profiles-restord", "--store", "profiles")
    assert result.returncode == 2
    assert result.stderr == (
        f"custody: no table crm-custody-profiles-restord in the local stack at {served_stack.info.aws_endpoint_url}\n"
    )


def test_ops_reads_the_stack_file_the_local_stack_writes(served_stack: ServedStack) -> None:
    """`.devstack/stack.json` is the contract: ops reads it without devstack's code."""
    read = stack_file.read(served_stack.state_dir)
    info = served_stack.info
    assert (read.aws_endpoint_url, read.region, read.environment) == (
        info.aws_endpoint_url,
        info.region,
        info.resources.environment,
    )
