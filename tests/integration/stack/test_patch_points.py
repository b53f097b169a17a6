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
from moto.cognitoidp import models as cognito_models
from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpUserPool
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
    StateTaskServiceLambda,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

from devstack import patches, stepfunctions
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


def test_moto_finds_a_cognito_user_by_name_only_through_get_user() -> None:
    """devstack.cognito's case-insensitive look-up replaces `CognitoIdpUserPool._get_user`: sign-up's
    and user creation's existence checks and every `Admin*` call still find users through it."""
    for name in ("sign_up", "admin_create_user"):
        assert "user_pool._get_user(username)" in inspect.getsource(getattr(CognitoIdpBackend, name))
    assert "user_pool._get_user(username)" in inspect.getsource(CognitoIdpBackend.admin_get_user)
    assert inspect.getsource(cognito_models).count(".users.get(") == 1  # in _get_user itself
    for name in ("admin_update_user_attributes", "update_user_attributes"):
        assert "self._verify_email_is_not_used(" in inspect.getsource(getattr(CognitoIdpBackend, name))


def test_install_and_uninstall_restore_moto() -> None:
    original = LambdaFunction.__dict__["_invoke_lambda"]
    original_wait = WaitFunction.__dict__["_wait_interval"]
    original_lookup = CognitoIdpUserPool.__dict__["_get_user"]
    with patches.patched(time_scale=0.0):
        assert LambdaFunction.__dict__["_invoke_lambda"] is not original
        assert CognitoIdpUserPool.__dict__["_get_user"] is not original_lookup
    assert LambdaFunction.__dict__["_invoke_lambda"] is original
    assert WaitFunction.__dict__["_wait_interval"] is original_wait
    assert CognitoIdpUserPool.__dict__["_get_user"] is original_lookup
    assert retrier_decl.time is time


def test_iam_enforcement_still_finds_the_step_functions_client_builder() -> None:
    iam_hooks.check_patch_point()
    module = importlib.import_module(iam_hooks.SFN_TASK_MODULES[0])
    original = module.boto_client_for
    with iam_hooks.installed():
        assert module.boto_client_for is not original
    assert module.boto_client_for is original


def test_the_step_functions_interpreter_still_has_the_shapes_devstack_stepfunctions_wraps() -> None:
    assert stepfunctions.patch_points() == []
    original = EventManager.__dict__["add_event"]
    with patches.patched(time_scale=0.0):
        assert EventManager.__dict__["add_event"] is not original
    assert EventManager.__dict__["add_event"] is original
