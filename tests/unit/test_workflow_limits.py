"""The erasure workflow stays inside Step Functions' limits whatever happens, read from the ASL itself.

Generated from `statemachines/erasure.asl.json`, so a state or a retry added later is covered:

* every Task that invokes Lambda retries its throttling on its own retrier, and its other transient
  errors (Lambda's service errors, `TransientError`, `AuditWriteFailed`) on another; both back off
  exponentially with full jitter and a cap, with enough attempts for throttling to clear (the issue:
  retries without jitter within 126 s failed a burst's erasures);
* no Map retries as a whole (one store's failure re-ran every store);
* the worst case — every retrier exhausted, every erasure round taken — stays under the 25,000
  events an execution's history may hold ("Quotas related to state machine executions", Step
  Functions developer guide), for a customer disclosed to `PROCESSORS_THAT_FIT` sub-processors; a
  run that still exceeded it ends `ExecutionFailed`, which the outcome rule records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Final

import pytest

from devstack.paths import ERASURE_ASL

ASL: Final = json.loads(ERASURE_ASL.read_text())
HISTORY_LIMIT: Final = 25_000  # events per execution history (Step Functions quotas)
THROTTLING: Final = "Lambda.TooManyRequestsException"
PROCESSORS_THAT_FIT: Final = 50  # sub-processors one customer was disclosed to, in the worst case below

# Events one attempt of a Task writes at most: TaskScheduled, TaskStarted, TaskSubmitted (a callback
# task), and its outcome (TaskSucceeded / TaskFailed / TaskTimedOut).
EVENTS_PER_ATTEMPT: Final = 4
EVENTS_PER_ENTRY: Final = 2  # <Kind>StateEntered and <Kind>StateExited


def _retriers(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        for retrier in state.get("Retry", ()):
            yield name, retrier
        if "ItemProcessor" in state:
            yield from _retriers(state["ItemProcessor"]["States"])


THROTTLED = [(name, retrier) for name, retrier in _retriers(ASL["States"]) if THROTTLING in retrier["ErrorEquals"]]
TRANSIENT = [
    (name, retrier) for name, retrier in _retriers(ASL["States"]) if "TransientError" in retrier["ErrorEquals"]
]


def test_every_task_that_invokes_lambda_retries_throttling() -> None:
    invoking = [
        name
        for name, state in _all_states(ASL["States"])
        if state.get("Type") == "Task" and str(state.get("Resource", "")).startswith("arn:aws:states:::lambda:invoke")
    ]
    assert invoking
    assert sorted(invoking) == sorted(name for name, _ in THROTTLED) == sorted(name for name, _ in TRANSIENT)


@pytest.mark.parametrize(("state", "retrier"), THROTTLED, ids=[name for name, _ in THROTTLED])
def test_throttling_is_retried_long_enough_to_clear(state: str, retrier: dict[str, Any]) -> None:
    assert retrier["ErrorEquals"] == [THROTTLING]  # its own attempts: other errors cannot use them up
    assert retrier.get("JitterStrategy") == "FULL"
    assert retrier["MaxAttempts"] >= 20
    waits = [
        min(retrier["IntervalSeconds"] * retrier["BackoffRate"] ** n, retrier["MaxDelaySeconds"])
        for n in range(retrier["MaxAttempts"])
    ]
    assert sum(waits) >= 900  # a quarter of an hour of capped back-off


@pytest.mark.parametrize(("state", "retrier"), TRANSIENT, ids=[name for name, _ in TRANSIENT])
def test_transient_retries_back_off_with_jitter_and_a_cap(state: str, retrier: dict[str, Any]) -> None:
    assert retrier.get("JitterStrategy") == "FULL"
    assert retrier.get("BackoffRate", 2.0) > 1
    assert 0 < retrier["MaxDelaySeconds"] <= 300
    # enough attempts that the capped waits sum to minutes: throttling of a burst has time to clear
    waits = [
        min(retrier["IntervalSeconds"] * retrier["BackoffRate"] ** n, retrier["MaxDelaySeconds"])
        for n in range(retrier["MaxAttempts"])
    ]
    assert sum(waits) >= 300
    assert "AuditWriteFailed" in retrier["ErrorEquals"]  # a contended ledger is retried, not a failed erasure


def test_no_map_retries_as_a_whole() -> None:
    maps = [name for name, state in _all_states(ASL["States"]) if state.get("Type") == "Map"]
    assert maps
    assert all(not dict(_all_states(ASL["States"]))[name].get("Retry") for name in maps)


def test_the_worst_case_history_fits_the_limit() -> None:
    assert worst_case_events(PROCESSORS_THAT_FIT) < HISTORY_LIMIT


def worst_case_events(processors: int) -> int:
    """Events of an execution in which every retrier is exhausted and every erasure round is taken.

    States inside the erasure round (from `EraseStores` to `AnotherRound`) are entered once per
    round; the round count is `AnotherRound`'s bound plus one. Map iterations: `processors` each.
    """
    rounds = _round_bound() + 1
    in_round = _round_states()
    total = 2  # ExecutionStarted, its end
    for name, state in ASL["States"].items():
        entries = rounds if name in in_round else 1
        total += entries * _state_events(state, processors)
    return total


def _state_events(state: dict[str, Any], processors: int) -> int:
    events = EVENTS_PER_ENTRY
    if state.get("Type") == "Task":
        attempts = 1 + sum(retrier.get("MaxAttempts", 3) for retrier in state.get("Retry", ()))
        events += attempts * EVENTS_PER_ATTEMPT
    if state.get("Type") == "Map":
        body = sum(_state_events(inner, processors) for inner in state["ItemProcessor"]["States"].values())
        events += 2 + processors * (2 + body)  # MapRunStarted/Succeeded; per iteration its own start and end
    return events


def _round_bound() -> int:
    choices = ASL["States"]["AnotherRound"]["Choices"]
    return int(next(choice["NumericLessThan"] for choice in choices if "NumericLessThan" in choice))


def _round_states() -> set[str]:
    """The states between `EraseStores` and `AnotherRound`, following `Next` (the loop a residue takes)."""
    states, seen, name = ASL["States"], set(), "EraseStores"
    while name and name not in seen:
        seen.add(name)
        name = states[name].get("Next") if name != "Verify" else "CountRound"
    return seen | {"CountRound", "AnotherRound"}


def _all_states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        yield name, state
        if "ItemProcessor" in state:
            yield from _all_states(state["ItemProcessor"]["States"])
