"""EventBridge's default event bus, locally: the synthesized template's rules, and delivery to their
Lambda targets as EventBridge delivers.

moto keeps the rules the local stack provisions but delivers no service event to a Lambda target.
Here the events the local services emit (`devstack.stepfunctions`: "Step Functions Execution Status
Change") are put on a `Bus` holding every rule of the synthesized template that has an
`EventPattern` and is on the default bus and not `DISABLED` (`rules_from_template`). For each rule
whose pattern matches the event, each target is invoked asynchronously, as EventBridge invokes a
Lambda target (`InvocationType=Event`, so the function's own asynchronous retries, throttling
retries and event age apply: `devstack.asynchronous`), with the event itself, the target's `Input`,
or what its `InputPath` selects. Sources: EventBridge user guide, "Amazon EventBridge event
patterns", "Content filtering in Amazon EventBridge event patterns", "Amazon EventBridge targets".

**Patterns** are matched by moto's `EventPattern` (`moto.events.models`, pinned with moto), after
`check_pattern` has accepted them: a pattern is objects of fields whose leaves are arrays of values
or of one-operator filters among `KNOWN_OPERATORS` (exact values, `prefix`, `suffix`,
`equals-ignore-case`, `anything-but`, `numeric`, `exists`, `cidr`, `wildcard`, and `$or`), which
moto implements; any other operator, or a filter of two operators, raises `UnsupportedPattern` when
the bus is made (moto would match it silently).

**Delivery** is authorized as EventBridge's would be: the service principal `events.amazonaws.com`
needs `lambda:InvokeFunction` on the target from the function's resource policy, for the rule's
ARN (`aws:SourceArn`) and account, when `devstack.iam` enforces the template. A refused or
impossible delivery (no such function) is what EventBridge retries under the target's
`RetryPolicy` and then sends to its `DeadLetterConfig` queue; locally it is logged and kept in
`undelivered()` (no dead-letter queue is provisioned). A delivered event is no longer EventBridge's:
the asynchronous invocation's own retries take over, as in AWS.

Not modelled: `InputTransformer` (refused when the bus is made), targets other than Lambda functions
(refused), other event buses, archives and replays, the rare duplicate delivery.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from moto.events.models import EventPattern

from devstack.iam.template import Resolver

LOG = logging.getLogger("devstack.eventbridge")

DEFAULT_BUS: Final = "default"
EVENTS_PRINCIPAL: Final = "events.amazonaws.com"
KNOWN_OPERATORS: Final = frozenset(
    {"prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists", "cidr", "wildcard"}
)
# What `anything-but` may hold besides values: one of these filters (moto evaluates it recursively).
ANYTHING_BUT_OPERATORS: Final = frozenset({"prefix", "suffix", "equals-ignore-case", "wildcard"})
NUMERIC_COMPARISONS: Final = frozenset({"<", "<=", "=", ">=", ">"})


class UnsupportedPattern(ValueError):
    """An event pattern uses something the local bus does not match faithfully."""


class UnsupportedTarget(ValueError):
    """A rule's target is one the local bus does not deliver to."""


@dataclass(frozen=True)
class Target:
    target_id: str
    function_arn: str
    input: str | None = None  # constant JSON text
    input_path: str | None = None  # JSONPath into the event

    def payload(self, event: Mapping[str, Any]) -> Any:
        """What EventBridge sends the function: the constant input, the selected part, or the event."""
        if self.input is not None:
            return json.loads(self.input)
        if self.input_path is not None:
            from jsonpath_ng.ext.parser import parse  # moto's dependency, which its own InputPath handling uses

            found = parse(self.input_path).find(event)
            return found[0].value if found else None
        return dict(event)


@dataclass(frozen=True)
class Rule:
    name: str
    arn: str
    pattern: Mapping[str, Any]
    targets: tuple[Target, ...]

    def matches(self, event: Mapping[str, Any]) -> bool:
        matched: bool = EventPattern(json.dumps(self.pattern), dict(self.pattern)).matches_event(event)  # type: ignore[arg-type]
        return matched


def check_pattern(pattern: Any, where: str = "") -> None:
    """Raise `UnsupportedPattern` unless every filter of `pattern` is one moto matches as EventBridge does."""
    if not isinstance(pattern, Mapping):
        raise UnsupportedPattern(f"{where or 'the pattern'}: a pattern is an object of fields")
    for name, value in pattern.items():
        here = f"{where}.{name}" if where else str(name)
        if name == "$or":
            if not isinstance(value, list) or not value:
                raise UnsupportedPattern(f"{here}: $or takes a non-empty array of patterns")
            for index, alternative in enumerate(value):
                check_pattern(alternative, f"{here}[{index}]")
        elif isinstance(value, Mapping):
            check_pattern(value, here)
        elif isinstance(value, list) and value:
            for item in value:
                _check_filter(item, here)
        else:
            raise UnsupportedPattern(f"{here}: a field matches a non-empty array of values or filters")


def _check_filter(item: Any, where: str) -> None:
    if item is None or isinstance(item, str | bool | int | float):
        return
    if not isinstance(item, Mapping) or len(item) != 1:
        raise UnsupportedPattern(f"{where}: a filter is a value or an object of exactly one operator, not {item!r}")
    ((operator, argument),) = item.items()
    if operator not in KNOWN_OPERATORS:
        raise UnsupportedPattern(
            f"{where}: the operator {operator!r} is not matched locally ({sorted(KNOWN_OPERATORS)})"
        )
    if (
        operator == "anything-but"
        and isinstance(argument, Mapping)
        and (len(argument) != 1 or next(iter(argument)) not in ANYTHING_BUT_OPERATORS)
    ):
        raise UnsupportedPattern(f"{where}: anything-but holds values or one of {sorted(ANYTHING_BUT_OPERATORS)}")
    if operator == "numeric":
        comparisons = argument[::2] if isinstance(argument, list) else None
        if not comparisons or len(argument) % 2 or not set(comparisons) <= NUMERIC_COMPARISONS:
            raise UnsupportedPattern(f"{where}: numeric takes pairs of a comparison and a number, not {argument!r}")


def rules_from_template(template: Mapping[str, Any], resolver: Resolver) -> tuple[Rule, ...]:
    """Every enabled rule of the default bus with an event pattern, intrinsics resolved (schedules are not routed)."""
    found = []
    for logical, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Events::Rule":
            continue
        props = resource.get("Properties", {})
        if "EventPattern" not in props or props.get("State", "ENABLED") == "DISABLED":
            continue
        bus = resolver.resolve(props.get("EventBusName", DEFAULT_BUS))
        if bus not in (DEFAULT_BUS, None) and not str(bus).endswith(f":event-bus/{DEFAULT_BUS}"):
            continue
        pattern = resolver.resolve(props["EventPattern"])
        pattern = json.loads(pattern) if isinstance(pattern, str) else pattern
        check_pattern(pattern, logical)
        targets = tuple(_target(logical, target, resolver) for target in props.get("Targets", []))
        arn = str(resolver.resolve({"Fn::GetAtt": [logical, "Arn"]}))
        found.append(Rule(str(resolver.resolve(props.get("Name", logical))), arn, pattern, targets))
    return tuple(found)


def _target(rule: str, target: Mapping[str, Any], resolver: Resolver) -> Target:
    arn = str(resolver.resolve(target["Arn"]))
    if ":lambda:" not in arn or ":function:" not in arn:
        raise UnsupportedTarget(f"{rule}: the local bus delivers to Lambda functions only, not {arn}")
    if "InputTransformer" in target:
        raise UnsupportedTarget(f"{rule}: InputTransformer is not modelled locally")
    return Target(str(target["Id"]), arn, target.get("Input"), target.get("InputPath"))


# Delivers one payload to one function ARN for a rule (ARN): returns None, or why it could not.
Deliver = Callable[[Rule, Target, Any], str | None]


@dataclass(frozen=True)
class Undelivered:
    rule: str
    target_id: str
    reason: str


class Bus:
    """The default bus: `put_event` matches `rules` and hands each match's targets to `deliver`."""

    def __init__(self, rules: tuple[Rule, ...], deliver: Deliver) -> None:
        self.rules = rules
        self.deliver = deliver
        self._lock = threading.Lock()
        self._matched: Counter[str] = Counter()
        self._put = 0
        self._undelivered: list[Undelivered] = []

    def put_event(self, event: Mapping[str, Any]) -> tuple[str, ...]:
        """Route one event; the names of the rules it matched."""
        matched = tuple(rule for rule in self.rules if rule.matches(event))
        with self._lock:
            self._put += 1
            self._matched.update(rule.name for rule in matched)
        for rule in matched:
            for target in rule.targets:
                reason = self.deliver(rule, target, target.payload(event))
                if reason is not None:
                    LOG.warning("%s: event not delivered to %s (%s)", rule.name, target.target_id, reason)
                    with self._lock:
                        self._undelivered.append(Undelivered(rule.name, target.target_id, reason))
        return tuple(rule.name for rule in matched)

    def matched(self) -> Counter[str]:
        """Events matched per rule name."""
        with self._lock:
            return Counter(self._matched)

    def undelivered(self) -> tuple[Undelivered, ...]:
        with self._lock:
            return tuple(self._undelivered)


def lambda_delivery(authorize: Callable[[Rule, Target], str | None] | None = None) -> Deliver:
    """Deliver to moto's function of the target ARN through the local asynchronous invoker.

    `authorize(rule, target)` answers why EventBridge may not invoke the target (None: it may).
    """

    def deliver(rule: Rule, target: Target, payload: Any) -> str | None:
        from moto.awslambda.models import lambda_backends

        from devstack import asynchronous

        refusal = authorize(rule, target) if authorize is not None else None
        if refusal is not None:
            return refusal
        _, _, _, region, account, _ = target.function_arn.split(":", 5)
        try:
            function = lambda_backends[account][region].get_function(target.function_arn)
        except Exception as missing:  # moto's UnknownFunctionException
            return f"{type(missing).__name__}: {target.function_arn}"
        asynchronous.current().submit(function, payload)
        return None

    return deliver


class _Current:
    lock = threading.Lock()
    buses: ClassVar[list[Bus]] = []  # the process's routing buses, innermost last


def put_event(event: Mapping[str, Any]) -> tuple[str, ...]:
    """Put an event on the routing bus (`routing`); without one, no rule exists and nothing matches."""
    bus = current()
    return () if bus is None else bus.put_event(event)


def current() -> Bus | None:
    """The bus routing now (the innermost `routing` block's), if any."""
    with _Current.lock:
        return _Current.buses[-1] if _Current.buses else None


@contextmanager
def routing(bus: Bus) -> Iterator[Bus]:
    """Route the local services' events through `bus` for the block (nested blocks: the innermost bus)."""
    with _Current.lock:
        _Current.buses.append(bus)
    try:
        yield bus
    finally:
        with _Current.lock:
            _Current.buses.remove(bus)
