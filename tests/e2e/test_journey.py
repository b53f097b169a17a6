"""`make smoke`'s journey against the served stack: everything that exists must hold."""

from __future__ import annotations

import io

import pytest

from devstack import journey
from tests.integration.conftest import ServedStack

ALWAYS_BUILT = (
    "Sign up (customer pool, verified e-mail)",
    "The gateway refuses a call without a token",
    "The gateway refuses forged tokens",
    "An authenticated call reaches the right function",
)


@pytest.fixture(scope="module")
def ran(served_stack: ServedStack) -> tuple[journey.Outcome, str]:
    out = io.StringIO()
    outcome = journey.run(served_stack.info, out=out)
    return outcome, out.getvalue()


def test_the_journey_holds_as_far_as_the_capabilities_go(ran: tuple[journey.Outcome, str]) -> None:
    outcome, printed = ran
    assert outcome.exit_status == 0, printed
    done = [result.title for result in outcome.results if result.status is journey.Status.DONE]
    assert done[: len(ALWAYS_BUILT)] == list(ALWAYS_BUILT), printed
    stopped = outcome.stopped_at
    if stopped is not None:
        assert outcome.results[-1] is stopped, "the journey stops at the first capability not built yet"
        assert "not built yet" in printed
    else:
        assert len(done) == len(journey.STEPS)


def test_the_stack_logs_no_personal_data(served_stack: ServedStack, ran: tuple[journey.Outcome, str]) -> None:
    _, printed = ran
    emails = {line.split()[0] for line in printed.splitlines() if "@example.com signed up" in line}
    assert emails, printed
    log = served_stack.log.read_text()
    assert "-> " in log or " -> " in log, "the stack logged its requests (route templates, statuses)"
    for value in (*emails, journey.LEGAL_NAME, "+14155550100"):
        assert value not in log, "the stack's own log must not carry personal data"
