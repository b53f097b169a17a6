"""Where enforcement plugs in, and the local stack's enforcement as one context manager.

`installed()` (nestable) wraps, for as long as it is active:

* `custody.platform.aws.Clients._cached`: every client the functions build is `attach`ed;
* `devstack.runtime`: each invocation runs `acting_as(<its function name>)`;
* moto's Step Functions interpreter (`boto_client_for`, imported by name into each task
  module): the Lambda, SQS and SNS clients a task builds are attached as the state machine's
  role, found from the task's `StateCredentials.role_arn`.

`local_enforcement(resources, clients)` compiles the synthesized template against a
provisioned local stack and enforces it, inside `installed()`.
"""

from __future__ import annotations

import importlib
import inspect
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, ClassVar, Final

from custody.declared.settings import Settings
from custody.platform import aws
from devstack import runtime
from devstack.iam import synthesis
from devstack.iam.enforce import acting_as, attach, current_stack, enforcing, state_machine_principal
from devstack.iam.ledger import LEDGER
from devstack.iam.stack import CompiledStack, compile_stack
from devstack.iam.template import Bindings
from devstack.resources import Resources

SFN_TASK_MODULES: Final = tuple(
    f"moto.stepfunctions.parser.asl.{name}"
    for name in (
        "utils.boto_client",
        "component.state.exec.state_task.lambda_eval_utils",
        "component.state.exec.state_task.service.state_task_service_sqs",
        "component.state.exec.state_task.service.state_task_service_sns",
        "component.state.exec.state_task.service.state_task_service_aws_sdk",
        "component.state.exec.state_task.service.state_task_service_dynamodb",
        "component.state.exec.state_task.service.state_task_service_sfn",
        "component.state.exec.state_task.service.state_task_service_events",
        "component.state.exec.state_task.service.state_task_service_unsupported",
    )
)
BOTO_CLIENT_FOR_SIGNATURE: Final = "(region, service, state_credentials=None)"


class _Installed:
    lock = threading.Lock()
    depth = 0
    saved: ClassVar[dict[str, Any]] = {}


def _signature(function: Callable[..., Any]) -> str:
    parameters = inspect.signature(function).parameters.values()
    rendered = (p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}" for p in parameters)
    return f"({', '.join(rendered)})"


def check_patch_point() -> None:
    """moto's `boto_client_for` still has the shape enforcement wraps (a canary test calls this)."""
    module: Any = importlib.import_module(SFN_TASK_MODULES[0])
    found = _signature(module.boto_client_for)
    if found != BOTO_CLIENT_FOR_SIGNATURE:
        raise RuntimeError(f"moto's boto_client_for{found} changed (expected {BOTO_CLIENT_FOR_SIGNATURE})")


def _function_hook(spec: runtime.FunctionSpec) -> AbstractContextManager[None]:
    return acting_as(spec.function_name)


def _wrap_boto_client_for(original: Callable[..., Any]) -> Callable[..., Any]:
    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        client = original(region, service, state_credentials)
        stack = current_stack()
        if stack is not None:
            attach(client, state_machine_principal(stack, getattr(state_credentials, "role_arn", "")))
        return client

    return boto_client_for


def _install() -> None:
    check_patch_point()
    saved = _Installed.saved
    saved["cached"] = aws.Clients.__dict__["_cached"]
    original_cached = saved["cached"]

    def cached(clients: aws.Clients, name: str, build: Callable[[Any, str], Any]) -> Any:
        client = original_cached(clients, name, build)
        if not getattr(client.meta.events, "_devstack_iam", False):
            attach(client)
            client.meta.events._devstack_iam = True
        return client

    aws.Clients._cached = cached  # type: ignore[method-assign,assignment]
    runtime.add_invocation_hook(_function_hook)
    for module_name in SFN_TASK_MODULES:
        module: Any = importlib.import_module(module_name)
        saved[module_name] = module.boto_client_for
        module.boto_client_for = _wrap_boto_client_for(module.boto_client_for)
    aws.reset_clients()


def _uninstall() -> None:
    saved = _Installed.saved
    aws.Clients._cached = saved.pop("cached")  # type: ignore[method-assign]
    runtime.remove_invocation_hook(_function_hook)
    for module_name in SFN_TASK_MODULES:
        setattr(importlib.import_module(module_name), "boto_client_for", saved.pop(module_name))  # noqa: B010
    aws.reset_clients()


@contextmanager
def installed() -> Iterator[None]:
    with _Installed.lock:
        _Installed.depth += 1
        if _Installed.depth == 1:
            _install()
    try:
        yield
    finally:
        with _Installed.lock:
            _Installed.depth -= 1
            if _Installed.depth == 0:
                _uninstall()


def bindings_for(resources: Resources) -> Bindings:
    prefix = Settings.from_env(resources.environment).resource_prefix
    return Bindings(
        account=resources.account_id,
        region=resources.region,
        key_arns_by_alias={key.alias: key.arn for key in resources.keys.values()},
        user_pool_arns_by_name={f"{prefix}-{name}": pool.pool_arn for name, pool in resources.user_pools.items()},
    )


def compiled_for(resources: Resources) -> CompiledStack:
    return compile_stack(synthesis.template(), bindings_for(resources))


@contextmanager
def local_enforcement(resources: Resources, clients: Callable[[str], Any]) -> Iterator[CompiledStack]:
    """Enforce the template's policies on the provisioned `resources` until the block ends."""
    stack = compiled_for(resources)
    sfn = clients("stepfunctions")
    local_roles = {}
    for arn in resources.state_machines.values():
        described = sfn.describe_state_machine(stateMachineArn=arn)
        local_roles[described["roleArn"]] = described["name"]
    with installed(), enforcing(stack, local_roles):
        LEDGER.enforced_stack()
        yield stack
