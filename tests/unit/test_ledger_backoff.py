"""The ledger's claim backoff and shard choice, without AWS: the waits it asks for, and where a writer writes."""

from __future__ import annotations

import threading
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from custody.audit.grammar import SHARD_NAMES
from custody.audit.ledger import CLAIM_BACKOFF, SHARD, ClaimBackoff


@given(attempt=st.integers(min_value=1, max_value=CLAIM_BACKOFF.max_attempts))
def test_every_wait_is_drawn_under_its_ceiling(attempt: int) -> None:
    ceiling = CLAIM_BACKOFF.ceiling(attempt)
    assert ceiling == min(CLAIM_BACKOFF.cap_seconds, CLAIM_BACKOFF.base_seconds * 2**attempt)
    assert 0 <= CLAIM_BACKOFF.delay(attempt) <= ceiling


def test_the_ceilings_double_to_the_cap_and_the_waits_fit_an_api_function() -> None:
    ceilings = [CLAIM_BACKOFF.ceiling(attempt) for attempt in range(1, CLAIM_BACKOFF.max_attempts)]
    assert ceilings[:4] == [0.04, 0.08, 0.16, 0.32]
    assert set(ceilings[4:]) == {CLAIM_BACKOFF.cap_seconds}
    assert CLAIM_BACKOFF.max_wait_seconds() == sum(ceilings)
    assert CLAIM_BACKOFF.max_wait_seconds() < 29 - 4  # API Gateway's 29 s, with room for the calls


def test_the_time_scale_shortens_the_sleep_not_the_wait_asked_for() -> None:
    slept: list[float] = []
    backoff = ClaimBackoff(time_scale=0.25, sleep=slept.append)
    backoff.pause(0.4)
    replace(backoff, time_scale=0.0).pause(0.4)
    backoff.pause(0.0)
    assert slept == [0.1]


def test_a_thread_keeps_its_shard_until_it_moves_and_threads_draw_their_own() -> None:
    SHARD.name = None
    first = SHARD.current()
    assert first in SHARD_NAMES
    assert SHARD.current() == first
    drawn: set[str] = set()
    for _ in range(200):
        SHARD.move()
        drawn.add(SHARD.current())
    assert drawn == set(SHARD_NAMES)  # 200 draws of 16 names miss one with probability < 1e-4

    seen: list[str | None] = []
    thread = threading.Thread(target=lambda: seen.append(SHARD.name))
    thread.start()
    thread.join()
    assert seen == [None]  # a new thread (a new Lambda environment) has drawn nothing yet
