"""The shape of the ids the system mints and trusts: canonical UUIDs.

Request, grant, change-request and document ids are `uuid4()`; Cognito user pools give every
user a UUID `sub`. Anything else in a place an id belongs is refused, or kept out of the ledger.
"""

from __future__ import annotations

import re
from typing import Final

UUID_PATTERN: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_uuid(value: object) -> bool:
    """Whether `value` is a UUID in canonical form (lower-case hex, hyphenated, 36 characters)."""
    return isinstance(value, str) and bool(UUID_PATTERN.fullmatch(value))
