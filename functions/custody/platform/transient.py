"""AWS failures that outlived botocore's retries but are still worth retrying, by name.

botocore retries throttling, 5xx answers and broken connections a few times within one call.
A fault that lasts longer escapes as `ClientError`, `ReadTimeoutError`, … — names the erasure
workflow's `Retry` blocks do not list, so one long throttle used to fail the whole erasure and
leave it to an operator's re-run. `transient_as(TransientError)` on a step handler turns those
escapes into the error the state machine retries with backoff; every other error keeps its
own name. (Found by the fault suite, tests/robustness/test_faults.py.)
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Final, ParamSpec, TypeVar

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as ConnectionFailed

from custody.declared.errors import ServiceBusy

log = logging.getLogger(__name__)
# Everything botocore raises for a call that failed: an AWS answer, or no answer at all.
AWS_FAILURES: Final = (ClientError, HTTPClientError, ConnectionFailed)

_P = ParamSpec("_P")
_R = TypeVar("_R")

THROTTLING_CODES: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "LimitExceededException",
    }
)


def is_transient(error: BaseException) -> bool:
    """A throttle, a 5xx or a connection failure: the same call may well succeed later.

    Throttles are recognised by error code (`THROTTLING_CODES`: those of botocore's standard retry
    mode but `BandwidthLimitExceeded`), server faults by an HTTP status of 500 or more.
    """
    if isinstance(error, HTTPClientError | ConnectionFailed):
        return True  # read timeouts, dropped connections; unreachable endpoints, connect timeouts
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return code in THROTTLING_CODES or status >= 500
    return False


def transient_cause(error: BaseException, depth: int = 4) -> BaseException | None:
    """The transient AWS failure behind `error`: itself, or what a wrapper raised it from; else None.

    Powertools' idempotency layer wraps the DynamoDB error it met. At most `depth` links of the
    `__cause__` chain are followed.
    """
    current: BaseException | None = error
    for _ in range(depth):
        if current is None:
            return None
        if is_transient(current):
            return current
        current = current.__cause__
    return None


def busy(cause: BaseException) -> ServiceBusy:
    """What an API request answers when `cause`, a transient AWS failure, outlived the retries.

    Logged by the error's class and code only: an AWS error message may quote a key or a value.
    """
    log.warning("An AWS call kept failing past its retries: %s", error_name(cause))
    return ServiceBusy("A service this request needs is busy; retry shortly.")


def error_name(error: BaseException) -> str:
    """How a failure may be logged: a `ClientError`'s error code, else the exception's class name."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code") or type(error).__name__)
    return type(error).__name__


def transient_as(error_type: type[Exception]) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Re-raise a transient AWS failure of the wrapped function as `error_type` (the cause kept)."""

    def decorate(function: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(function)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return function(*args, **kwargs)
            except Exception as error:
                if is_transient(error):
                    raise error_type(f"AWS call failed transiently ({type(error).__name__}).") from error
                raise

        return wrapper

    return decorate
