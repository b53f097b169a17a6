"""Enforcement: every AWS call a function (or the state machine) makes is authorized first.

Who is calling is known per thread: the in-process Lambda runtime runs each invocation under
`acting_as(<function name>)` (a hook `install` registers in `devstack.runtime`), and tests that
call a handler directly do the same. Calls from a thread acting as nobody - the test's own
checks, provisioning, the gateway - are not a function's and are not checked.

Where it sits: on each client `custody.platform.aws.clients` builds (and each client moto's Step
Functions interpreter builds for a task, bound to the state machine's role), botocore's
`before-parameter-build` evaluates the call's `Need`s (devstack.iam.requests) against the
compiled stack and `before-call` answers a refused call as AWS would (DynamoDB, KMS, Step
Functions: 400 `AccessDeniedException`; S3: 403 `AccessDenied`; SNS `AuthorizationError`) -
above botocore's retries, which do not retry an access denial. `DeleteObjects` refuses object
by object, in `Errors`. `after-call` turns an S3 `GetObject`/`HeadObject` 404 into 403 when
the caller may not `s3:ListBucket` the bucket, as S3 does.

Every checked call and every refusal is counted in the ledger `enforcing` was given (`LEDGER`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.awsrequest import AWSResponse
from moto.core.botocore_stubber import MockRawResponse

from custody.declared import naming
from devstack.iam.ledger import LEDGER, Ledger
from devstack.iam.policy import Principal, Request
from devstack.iam.requests import Call, Need, NotModelled, authorizations
from devstack.iam.stack import CompiledStack

_PARAMS: Final = "devstack_iam_params"
_REFUSAL: Final = "devstack_iam_refusal"
_WITHHELD: Final = "devstack_iam_withheld"
_PRINCIPAL: Final = "devstack_iam_principal"

# How each service answers a request IAM refuses: (HTTP status, error code).
REFUSALS: Final = {
    "dynamodb": (400, "AccessDeniedException"),
    "kms": (400, "AccessDeniedException"),
    "stepfunctions": (400, "AccessDeniedException"),
    "cognito-idp": (400, "AccessDeniedException"),
    "cloudtrail-data": (400, "AccessDeniedException"),
    "lambda": (403, "AccessDeniedException"),
    "s3": (403, "AccessDenied"),
    "sns": (403, "AuthorizationError"),
    "sqs": (403, "AccessDenied"),
    "secretsmanager": (400, "AccessDeniedException"),
}


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    stacks: list[tuple[CompiledStack, Ledger]] = field(default_factory=list)
    local_roles: dict[str, Principal] = field(default_factory=dict)  # local role ARN -> state machine principal


_STATE: Final = _State()
_CURRENT: Final = threading.local()


def current_stack() -> CompiledStack | None:
    return _STATE.stacks[-1][0] if _STATE.stacks else None


def _ledger() -> Ledger:
    return _STATE.stacks[-1][1] if _STATE.stacks else LEDGER


@contextmanager
def enforcing(
    stack: CompiledStack, local_roles: Mapping[str, str] | None = None, ledger: Ledger = LEDGER
) -> Iterator[CompiledStack]:
    """Enforce `stack`'s policies until the block ends (nested blocks: the innermost stack),
    counting into `ledger`.

    `local_roles` maps a role ARN the local stack gave a state machine to that state machine's
    name in the template.
    """
    entry = (stack, ledger)
    with _STATE.lock:
        _STATE.stacks.append(entry)
        for role, machine in (local_roles or {}).items():
            _STATE.local_roles[role] = stack.state_machine(machine)
    try:
        yield stack
    finally:
        with _STATE.lock:
            _STATE.stacks.remove(entry)


def _function_principal(stack: CompiledStack, function: str) -> Principal:
    for name in (function, naming.function_name(naming.DEFAULT_PREFIX, function)):
        if name in stack.function_roles:
            return stack.function(name)
    return Principal(f"function:{function} (no role in the template)", stack.bindings.account, arn="unknown-role")


def state_machine_principal(stack: CompiledStack, role_arn: str) -> Principal:
    """The state machine whose local role is `role_arn` (an unknown role has no policies)."""
    found = _STATE.local_roles.get(role_arn)
    return found or Principal(f"state machine role {role_arn} (not in the template)", stack.bindings.account, "unknown")


@contextmanager
def acting_as(function: str) -> Iterator[None]:
    """Calls made by this thread in the block are `function`'s (its physical or catalog name)."""
    stack = current_stack()
    saved = getattr(_CURRENT, "principal", None)
    _CURRENT.principal = _function_principal(stack, function) if stack is not None else None
    try:
        yield
    finally:
        _CURRENT.principal = saved


def attach(client: Any, principal: Principal | None = None) -> Any:
    """Check this client's calls: as `principal`, or as whoever the calling thread acts as."""
    events = client.meta.events
    unique = f"devstack-iam-{id(client)}"
    events.register("before-parameter-build", _bind(_authorize, principal), unique_id=unique + "-auth")
    events.register_first("before-call", _refuse, unique_id=unique + "-refuse")
    events.register("after-call", _after_call, unique_id=unique + "-after")
    events.register("before-sign", _refuse_presign, unique_id=unique + "-presign")
    return client


def _bind(handler: Callable[..., Any], principal: Principal | None) -> Callable[..., Any]:
    def bound(**kwargs: Any) -> Any:
        return handler(principal=principal, **kwargs)

    return bound


def _base_context(principal: Principal) -> dict[str, str]:
    return {
        "aws:principalarn": principal.arn,
        "aws:principalaccount": principal.account,
        "aws:securetransport": "true",
        "s3:tlsversion": "1.3",
    }


def _authorize(principal: Principal | None, params: dict[str, Any], model: Any, context: Any, **_: Any) -> None:
    stack = current_stack()
    caller = principal or getattr(_CURRENT, "principal", None)
    if stack is None or caller is None or not isinstance(context, dict):
        return
    service, operation = model.service_model.service_name, model.name
    _ledger().checked_call(caller.name)
    context[_PRINCIPAL], context[_PARAMS] = caller, params
    try:
        needs = authorizations(Call(service, operation, params), stack)
    except NotModelled as error:
        context[_REFUSAL] = _deny(service, f"{caller.name}: fail closed, {error}")
        return
    base = _base_context(caller)
    refused: dict[int | None, str] = {}
    for need in needs:
        verdict = stack.authority.decide(caller, _with_context(need, base))
        if not verdict.allowed:
            refused.setdefault(need.part, verdict.reason)
    if None in refused:
        context[_REFUSAL] = _deny(service, refused[None])
    elif refused:
        _withhold_objects(params, context, refused)


def _with_context(need: Need, base: Mapping[str, str]) -> Request:
    return Request(need.request.action, need.request.resource, {**base, **need.request.context})


def _deny(service: str, message: str) -> tuple[str, str]:
    _ledger().denied_call(message)
    return service, message


def _withhold_objects(params: dict[str, Any], context: dict[str, Any], refused: Mapping[int | None, str]) -> None:
    """DeleteObjects: the refused objects are left out and answered as `AccessDenied` errors."""
    objects = params["Delete"]["Objects"]
    withheld = [item for index, item in enumerate(objects) if index in refused]
    params["Delete"]["Objects"] = [item for index, item in enumerate(objects) if index not in refused]
    context[_WITHHELD] = withheld
    for index in refused:
        if index is not None:
            _ledger().denied_call(refused[index])


def _response(status: int, parsed: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    parsed["ResponseMetadata"] = {"HTTPStatusCode": status, "HTTPHeaders": {}, "RequestId": "devstack-iam"}
    return AWSResponse("https://devstack.iam/", status, {}, MockRawResponse(b"")), parsed  # type: ignore[arg-type]


def _refuse(context: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
    if not isinstance(context, dict):
        return None
    refusal = context.get(_REFUSAL)
    if refusal is not None:
        service, message = refusal
        status, code = REFUSALS.get(service, (403, "AccessDenied"))
        return _response(status, {"Error": {"Code": code, "Message": message}})
    if _WITHHELD in context and not _objects_left(context):
        return _response(200, {"Deleted": [], "Errors": []})
    return None


class PresignRefused(Exception):
    """A presigned URL whose request the signer's role may not make: AWS would answer it 403 when used.

    Raised when the URL is made (no call is sent then), so a local URL can never do more than the
    deployed one would (S3 user guide: a presigned URL acts with the permissions of whoever signed it).
    """


def _refuse_presign(request: Any = None, **_: Any) -> None:
    context = getattr(request, "context", None)
    if isinstance(context, dict) and context.get("is_presign_request") and context.get(_REFUSAL) is not None:
        raise PresignRefused(context[_REFUSAL][1])


def _objects_left(context: dict[str, Any]) -> bool:
    params = context.get(_PARAMS) or {}
    return bool((params.get("Delete") or {}).get("Objects"))


def _after_call(http_response: Any, parsed: Any, model: Any, context: Any, **_: Any) -> None:
    if not isinstance(context, dict) or not isinstance(parsed, dict):
        return
    withheld = context.pop(_WITHHELD, None)
    if withheld:
        errors = parsed.setdefault("Errors", [])
        for item in withheld:
            entry = {"Key": item["Key"], "Code": "AccessDenied", "Message": "Access Denied"}
            if item.get("VersionId"):
                entry["VersionId"] = item["VersionId"]
            errors.append(entry)
    if model.name in ("GetObject", "HeadObject") and getattr(http_response, "status_code", 0) == 404:
        _hide_not_found(http_response, parsed, model, context)


def _hide_not_found(http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any]) -> None:
    stack, caller = current_stack(), context.get(_PRINCIPAL)
    bucket = (context.get(_PARAMS) or {}).get("Bucket")
    if stack is None or caller is None or bucket is None:
        return
    listing = Request("s3:ListBucket", f"arn:aws:s3:::{bucket}", _base_context(caller))
    if stack.authority.decide(caller, listing).allowed:
        return
    _ledger().hid_not_found()
    http_response.status_code = 403
    code = "403" if model.name == "HeadObject" else "AccessDenied"
    parsed["Error"] = {"Code": code, "Message": "Access Denied"}
    parsed.setdefault("ResponseMetadata", {})["HTTPStatusCode"] = 403
