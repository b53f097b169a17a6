"""What the local stack takes from the synthesized template besides IAM: reserved concurrency and
the EventBridge rules that route service events.

`from_template(resources, clients)` (the served stack and the tests' stacks enter it after
provisioning, inside `devstack.iam.hooks.local_enforcement`):

* applies each function's `ReservedConcurrentExecutions` of the template to the local function
  through `PutFunctionConcurrency`, which `devstack.concurrency` reads at each invocation;
* routes the local services' events (`devstack.stepfunctions`' status changes) through a
  `devstack.eventbridge.Bus` of the template's pattern rules, delivering to their Lambda targets as
  `events.amazonaws.com`, authorized by the template's Lambda permissions when IAM is enforced.

`tests/infra/test_devstack_parity.py` holds both to the template.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from devstack import eventbridge
from devstack.iam import synthesis
from devstack.iam.enforce import current_stack
from devstack.iam.hooks import bindings_for
from devstack.iam.policy import Request
from devstack.iam.template import Resolver
from devstack.resources import Resources


def reserved_concurrency(template: Mapping[str, Any], resolver: Resolver) -> dict[str, int]:
    """Function name -> `ReservedConcurrentExecutions`, for the template's functions that reserve any."""
    found = {}
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Lambda::Function" and "ReservedConcurrentExecutions" in props:
            found[str(resolver.resolve(props["FunctionName"]))] = int(
                resolver.resolve(props["ReservedConcurrentExecutions"])
            )
    return found


def events_authorizer(account: str) -> Callable[[eventbridge.Rule, eventbridge.Target], str | None]:
    """Why EventBridge may not invoke a target under the enforced template (None: it may, or nothing is enforced)."""

    def authorize(rule: eventbridge.Rule, target: eventbridge.Target) -> str | None:
        stack = current_stack()
        if stack is None:
            return None
        context = {"aws:sourcearn": rule.arn, "aws:sourceaccount": account, "aws:securetransport": "true"}
        verdict = stack.authority.decide(
            stack.service(eventbridge.EVENTS_PRINCIPAL), Request("lambda:InvokeFunction", target.function_arn, context)
        )
        return (
            None if verdict.allowed else f"AccessDenied: {verdict.reason or 'no permission for events.amazonaws.com'}"
        )

    return authorize


@contextmanager
def from_template(
    resources: Resources, clients: Callable[[str], Any], template: Mapping[str, Any] | None = None
) -> Iterator[eventbridge.Bus]:
    """Apply the template's reservations and route its rules until the block ends (`template`: the synthesized one)."""
    template = synthesis.template() if template is None else template
    resolver = Resolver(template, bindings_for(resources))
    lambda_client = clients("lambda")
    for function_name, units in reserved_concurrency(template, resolver).items():
        lambda_client.put_function_concurrency(FunctionName=function_name, ReservedConcurrentExecutions=units)
    bus = eventbridge.Bus(
        eventbridge.rules_from_template(template, resolver),
        eventbridge.lambda_delivery(events_authorizer(resources.account_id)),
    )
    with eventbridge.routing(bus):
        yield bus
