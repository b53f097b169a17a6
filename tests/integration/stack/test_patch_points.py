"""Canary: moto's patch points still have the shape devstack was written against.

If this fails after a moto upgrade, read moto's new `LambdaFunction._invoke_lambda` / `invoke`
and the Step Functions retrier and wait code before touching `devstack.patches`.
"""

from __future__ import annotations

import importlib
import inspect
import time
from importlib.metadata import version

from moto.awslambda.models import LambdaFunction
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
    StateTaskServiceLambda,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

from devstack import patches
from devstack.iam import hooks as iam_hooks


def test_moto_is_the_pinned_version() -> None:
    assert version("moto") == "5.2.5", "devstack's patches were written against moto 5.2.5: re-check them"


def test_the_patch_points_have_the_expected_signatures() -> None:
    patches.check_patch_points()
    assert patches._signature(LambdaFunction._invoke_lambda) == patches.INVOKE_LAMBDA_SIGNATURE
    assert patches._signature(WaitFunction._wait_interval) == patches.WAIT_INTERVAL_SIGNATURE


def test_invoke_still_delegates_to_invoke_lambda_and_flags_errors() -> None:
    source = inspect.getsource(LambdaFunction.invoke)
    assert "self._invoke_lambda(event=body)" in source
    assert 'response_headers["x-amz-function-error"]' in source


def test_step_functions_reads_the_error_name_from_the_payloads_error_type() -> None:
    assert "LambdaFunctionErrorException" in inspect.getsource(lambda_eval_utils)
    assert 'cause_object["errorType"]' in inspect.getsource(StateTaskServiceLambda._from_error)


def test_the_retrier_sleeps_through_its_module_time() -> None:
    assert "time.sleep(interval_seconds)" in inspect.getsource(retrier_decl.RetrierDecl._eval_body)


def test_install_and_uninstall_restore_moto() -> None:
    original = LambdaFunction.__dict__["_invoke_lambda"]
    original_wait = WaitFunction.__dict__["_wait_interval"]
    with patches.patched(time_scale=0.0):
        assert LambdaFunction.__dict__["_invoke_lambda"] is not original
    assert LambdaFunction.__dict__["_invoke_lambda"] is original
    assert WaitFunction.__dict__["_wait_interval"] is original_wait
    assert retrier_decl.time is time


def test_iam_enforcement_still_finds_the_step_functions_client_builder() -> None:
    iam_hooks.check_patch_point()
    module = importlib.import_module(iam_hooks.SFN_TASK_MODULES[0])
    original = module.boto_client_for
    with iam_hooks.installed():
        assert module.boto_client_for is not original
    assert module.boto_client_for is original
