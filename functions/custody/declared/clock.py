"""The one clock and the one timestamp format.

Every moment the system writes is UTC with millisecond precision and a `Z`:
`2026-12-06T10:06:43.123Z`. The format sorts as text in the same order as time, so a stored
timestamp can be compared (`last_active_at <= cutoff`) without parsing; every timestamp has it,
so any two compare.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Final

FORMAT_EXAMPLE: Final = "2026-12-06T10:06:43.123Z"


def now() -> datetime:
    """The current moment, aware, in UTC."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """A moment in the one format; raises `ValueError` for a naive datetime (its zone is unknown)."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no place in a timestamp")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    """The current moment in the one format."""
    return iso(now())


def parse(text: str) -> datetime:
    """An ISO 8601 moment (`Z` or an offset, any precision) as aware UTC.

    Raises `ValueError` when it is not ISO 8601 or has no zone (a naive one is refused, not guessed).
    """
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("the moment has no timezone")
    return parsed.astimezone(UTC)


def epoch_seconds() -> float:
    """Seconds since the epoch (for TTLs and token times, which are epoch-based)."""
    return time.time()
