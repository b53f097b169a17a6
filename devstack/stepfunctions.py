"""What devstack adds to moto's Step Functions interpreter (moto 5.2.5, `moto.stepfunctions.parser`).

* **Status-change events.** A Standard workflow's execution sends "Step Functions Execution Status
  Change" (source `aws.states`) to the account's default event bus when it starts (`RUNNING`) and
  when it ends (`SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`); Express workflows send none. Its
  `detail` "provides the same information as the DescribeExecution API": `executionArn`,
  `stateMachineArn`, `name`, `status`, `startDate` and `stopDate` (milliseconds since the epoch; no
  `stopDate` yet: null), `input`, `inputDetails`, `output` (null unless it succeeded),
  `outputDetails`, and `error` and `cause` when it has them. Source: Step Functions developer guide,
  "EventBridge (CloudWatch Events) for Step Functions execution status changes", and EventBridge's
  event reference, "AWS Step Functions events" (best-effort delivery). moto sends none; here they go
  to `devstack.eventbridge.put_event`, which routes them to the synthesized template's rules.
  Not modelled: the input or output left out of an event past 248 KB (the workflow carries ids).
* **The history quota.** A Standard execution's history holds at most 25,000 events; "when an
  execution reaches 24,999 events, it waits for the next event to happen. If the event number 25,000
  is ExecutionSucceeded, the execution finishes successfully. If [not], the ExecutionFailed event is
  logged and the state machine execution fails" (developer guide, "Avoid reaching the history quota",
  and the Standard workflows quotas). moto has no such quota; here event 25,000 is the execution's
  `ExecutionFailed` unless it is its `ExecutionSucceeded`, whatever the states' `Catch` say: no
  `Catch` sees it, the execution ends FAILED. AWS documents the failure, not its error name or cause:
  locally they are `HISTORY_LIMIT_ERROR` and `HISTORY_LIMIT_CAUSE` - record any end that is not
  SUCCEEDED, never this name. The state under way when the quota is reached finishes its current
  step (a Lambda task runs to its end) but records nothing more and starts no next state.
* **Retries counted.** Each retry a state's `Retry` grants is counted by error name (`retries()`),
  and so is each error whose retrier has no attempts left (`exhausted()`): what a burst test reports.

Each `install()` checks moto still has the shapes patched (`PatchPointChanged` otherwise).
"""

from __future__ import annotations

import datetime
import inspect
import json
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, Final

from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType, StateMachineType
from moto.stepfunctions.parser.asl.component.common.retry.retry_decl import RetryDecl
from moto.stepfunctions.parser.asl.component.common.retry.retry_outcome import RetryOutcome
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

LOG = logging.getLogger("devstack.stepfunctions")

HISTORY_LIMIT: Final = 25_000  # events in a Standard execution's history (Step Functions quotas)
HISTORY_LIMIT_ERROR: Final = "States.Runtime"
HISTORY_LIMIT_CAUSE: Final = "The execution reached the maximum number of events in its history."
DETAIL_TYPE: Final = "Step Functions Execution Status Change"
SOURCE: Final = "aws.states"
_TERMINAL: Final = frozenset(
    {
        HistoryEventType.ExecutionSucceeded,
        HistoryEventType.ExecutionFailed,
        HistoryEventType.ExecutionAborted,
        HistoryEventType.ExecutionTimedOut,
    }
)
_ROOT: Final = "_devstack_root_environment"  # set on a root Environment's EventManager
_LIMITED: Final = "_devstack_history_limited"  # set on a root Environment that reached the quota

# The exact shapes devstack was written against (parameter names and defaults).
SIGNATURES: Final = {
    "EventManager.add_event": "(self, context, event_type, event_details=None, timestamp=None, "
    "update_source_event_id=True)",
    "RetryDecl._eval_body": "(self, env)",
    "ExecutionWorker._get_evaluation_environment": "(self)",
    "Environment.set_error": "(self, error)",
    "BaseExecutionWorkerCommunication.terminated": "(self)",
    "Execution.start": "(self)",
}

Publisher = Callable[[dict[str, Any]], None]


class PatchPointChanged(RuntimeError):
    """moto's Step Functions interpreter no longer has the shape devstack patches."""


def _signature(function: Callable[..., Any]) -> str:
    parameters = inspect.signature(function).parameters.values()
    rendered = (p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}" for p in parameters)
    return f"({', '.join(rendered)})"


_TARGETS: Final = {
    "EventManager.add_event": (EventManager, "add_event"),
    "RetryDecl._eval_body": (RetryDecl, "_eval_body"),
    "ExecutionWorker._get_evaluation_environment": (ExecutionWorker, "_get_evaluation_environment"),
    "Environment.set_error": (Environment, "set_error"),
    "BaseExecutionWorkerCommunication.terminated": (BaseExecutionWorkerCommunication, "terminated"),
    "Execution.start": (Execution, "start"),
}


def patch_points() -> list[str]:
    """What no longer has the expected shape (empty when every patch point is as written against)."""
    problems = []
    for name, (owner, attribute) in _TARGETS.items():
        found = _signature(getattr(owner, attribute))
        if found != SIGNATURES[name]:
            problems.append(f"{name}{found} (expected {SIGNATURES[name]})")
    return problems


class _Quota:
    events = HISTORY_LIMIT


@contextmanager
def history_quota(events: int) -> Iterator[None]:
    """Executions in the block fail at `events` history events instead of 25,000 (for tests)."""
    if events < 2:
        raise ValueError("A history holds at least its start and its end")
    saved, _Quota.events = _Quota.events, events
    try:
        yield
    finally:
        _Quota.events = saved


class _Counts:
    lock = threading.Lock()
    retries: ClassVar[Counter[str]] = Counter()
    exhausted: ClassVar[Counter[str]] = Counter()
    history_limited = 0
    status_events: ClassVar[Counter[str]] = Counter()


def retries() -> Counter[str]:
    """Retries a `Retry` granted since the process started, by error name (`Lambda.TooManyRequestsException`...)."""
    with _Counts.lock:
        return Counter(_Counts.retries)


def exhausted() -> Counter[str]:
    """Errors whose matching retrier had no attempts left, by error name."""
    with _Counts.lock:
        return Counter(_Counts.exhausted)


def history_limited() -> int:
    """Executions failed by the history quota since the process started."""
    with _Counts.lock:
        return _Counts.history_limited


def status_events() -> Counter[str]:
    """Status-change events sent to the event bus, by status."""
    with _Counts.lock:
        return Counter(_Counts.status_events)


# --- the patches -----------------------------------------------------------------------------


def _eval_retry(original: Callable[[RetryDecl, Environment], None]) -> Callable[[RetryDecl, Environment], None]:
    def _eval_body(self: RetryDecl, env: Environment) -> None:
        error_name = getattr(env.stack[-1], "error_name", None) if env.stack else None
        original(self, env)
        outcome = env.stack[-1] if env.stack else None
        with _Counts.lock:
            if outcome == RetryOutcome.CanRetry:
                _Counts.retries[str(error_name)] += 1
            elif outcome == RetryOutcome.CannotRetry:
                _Counts.exhausted[str(error_name)] += 1

    return _eval_body


def _add_event(original: Callable[..., int]) -> Callable[..., int]:
    def add_event(
        self: EventManager,
        context: Any,
        event_type: HistoryEventType,
        event_details: Any = None,
        timestamp: Any = None,
        update_source_event_id: bool = True,
    ) -> int:
        root: Environment | None = getattr(self, _ROOT, None)
        recorded = len(self._history_event_list)
        if root is not None and recorded >= _Quota.events - 1 and event_type not in _TERMINAL:
            if not getattr(root, _LIMITED, False):
                setattr(root, _LIMITED, True)
                with _Counts.lock:
                    _Counts.history_limited += 1
                LOG.warning("An execution reached the history quota (%d events): it fails", _Quota.events)
                _SET_ERROR["original"](
                    root, ExecutionFailedEventDetails(error=HISTORY_LIMIT_ERROR, cause=HISTORY_LIMIT_CAUSE)
                )
            return recorded  # never recorded: the quota is spent
        return original(self, context, event_type, event_details, timestamp, update_source_event_id)

    return add_event


def _evaluation_environment(
    original: Callable[[ExecutionWorker], Environment],
) -> Callable[[ExecutionWorker], Environment]:
    def _get_evaluation_environment(self: ExecutionWorker) -> Environment:
        env = original(self)
        if env.is_standard_workflow():  # Express workflows have no history quota
            setattr(env.event_manager, _ROOT, env)
        return env

    return _get_evaluation_environment


_SET_ERROR: dict[str, Callable[[Environment, ExecutionFailedEventDetails], None]] = {}


def _set_error(original: Callable[[Environment, ExecutionFailedEventDetails], None]) -> Callable[..., None]:
    def set_error(self: Environment, error: ExecutionFailedEventDetails) -> None:
        if getattr(self, _LIMITED, False):
            return  # the quota's failure stands: what the unwinding state raises after it is not the execution's end
        original(self, error)

    return set_error


def _terminated(original: Callable[[BaseExecutionWorkerCommunication], None]) -> Callable[..., None]:
    def terminated(self: BaseExecutionWorkerCommunication) -> None:
        original(self)
        _publish_status(self.execution)

    return terminated


def _start(original: Callable[[Execution], None]) -> Callable[[Execution], None]:
    def start(self: Execution) -> None:
        if self.sm_type == StateMachineType.STANDARD and self.exec_worker is None:
            _publish(status_change_event(self, "RUNNING"))
        original(self)

    return start


# --- the events --------------------------------------------------------------------------------


def _millis(moment: datetime.datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def status_change_event(execution: Execution, status: str | None = None) -> dict[str, Any]:
    """The EventBridge event for `execution` as it is now (or as `status`, for the start)."""
    described: dict[str, Any] = dict(execution.to_describe_output()) if status is None else {}
    state = status or str(getattr(described["status"], "value", described["status"]))
    detail: dict[str, Any] = {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine.arn,
        "name": execution.name,
        "status": state,
        "startDate": _millis(execution.start_date),
        "stopDate": _millis(execution.stop_date) if status is None else None,
        "input": json.dumps(execution.input_data, separators=(",", ":")),
        "inputDetails": {"included": True},
        "output": described.get("output"),
        "outputDetails": {"included": True} if "output" in described else None,
    }
    for optional in ("error", "cause"):
        if described.get(optional) is not None:
            detail[optional] = described[optional]
    now = datetime.datetime.now(tz=datetime.UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "account": execution.account_id,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": execution.region_name,
        "resources": [execution.exec_arn],
        "detail": detail,
    }


def _publish_status(execution: Execution) -> None:
    if execution.sm_type != StateMachineType.STANDARD:
        return
    _publish(status_change_event(execution))


def _publish(event: dict[str, Any]) -> None:
    from devstack import eventbridge  # eventbridge reaches the async invoker: import it when an event goes

    with _Counts.lock:
        _Counts.status_events[event["detail"]["status"]] += 1
    try:
        eventbridge.put_event(event)
    except Exception:  # best-effort delivery, as EventBridge's: never fail the execution over it
        LOG.exception("Routing a Step Functions status-change event failed")


# --- install ---------------------------------------------------------------------------------

_WRAPPERS: Final[dict[str, Callable[[Any], Any]]] = {
    "EventManager.add_event": _add_event,
    "RetryDecl._eval_body": _eval_retry,
    "ExecutionWorker._get_evaluation_environment": _evaluation_environment,
    "Environment.set_error": _set_error,
    "BaseExecutionWorkerCommunication.terminated": _terminated,
    "Execution.start": _start,
}


class _Installed:
    lock = threading.Lock()
    saved: dict[str, Any] | None = None


def install() -> None:
    """Patch moto's interpreter (`devstack.patches.install` does; idempotent)."""
    with _Installed.lock:
        if _Installed.saved is not None:
            return
        problems = patch_points()
        if problems:
            raise PatchPointChanged("moto's Step Functions patch points changed: " + "; ".join(problems))
        saved: dict[str, Any] = {}
        for name, (owner, attribute) in _TARGETS.items():
            saved[name] = owner.__dict__[attribute]
            setattr(owner, attribute, _WRAPPERS[name](saved[name]))
        _SET_ERROR["original"] = saved["Environment.set_error"]
        _Installed.saved = saved


def uninstall() -> None:
    with _Installed.lock:
        if _Installed.saved is None:
            return
        for name, (owner, attribute) in _TARGETS.items():
            setattr(owner, attribute, _Installed.saved[name])
        _SET_ERROR.clear()
        _Installed.saved = None
