"""Retention on the in-process stack: the erasure tier's fixtures, and a clock the tests set."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime

import pytest

from custody.declared import clock
from custody.stores import subjects
from tests.integration.erasure.conftest import customer, new_customer, settings

__all__ = ["active_at", "customer", "new_customer", "settings"]


@pytest.fixture
def active_at(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], AbstractContextManager[None]]:
    """Within the block, activity is recorded as happening at `moment` (time travel, no sleeping)."""

    @contextmanager
    def travel(moment: datetime) -> Iterator[None]:
        with monkeypatch.context() as patch:
            patch.setattr(subjects, "now_iso", lambda: clock.iso(moment))
            yield

    return travel
