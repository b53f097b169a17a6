r"""Pages of a customer's stores that never outgrow a Lambda response: byte budgets and cursors.

A synchronous Lambda invocation returns at most 6 MB ("Invocation payload (request and
response): 6 MB each for request and response (synchronous)", AWS Lambda quotas,
https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html); past it Lambda fails
the call with `Function.ResponseSizeTooLarge` and API Gateway answers 502. A read of a store is
therefore cut into pages bounded by *bytes as they leave the function*, never by item counts:
2,000 characters of CJK text are 6,000 bytes of UTF-8, 12,000 once Powertools' resolver writes
them as JSON (`json.dumps` escapes non-ASCII as `\uXXXX`), and 14,000 once the proxy response
embeds that body as a JSON string (each escape's backslash is escaped again). `wire_size`
measures exactly that. The budgets below are the only place page sizes are decided.

A page holds at least one item, whatever its size: an item is bounded by validation (an
interaction's summary at 2,000 characters, about 14 KB on the wire; a DynamoDB item at 400 KB,
under 1 MB on the wire whatever it holds), so one item always fits with room to spare.

A cursor is opaque to clients: base64url (no padding) of `{"v": 1, "s": store, "k": position}`,
where the position is the last item's sort key (a table) or object key relative to the
customer's prefix (a bucket) — ids and times, never personal data. The partition a page is read
from always comes from the caller's token (or, for staff, the customer their grant is for), never
from the cursor: a cursor only says where to resume inside it. A forged cursor can therefore only
start the caller's own listing at another place; it is not signed. Anything that is not a cursor
this module could have issued for that store (malformed, for another store, oversized) is a 400.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from custody.declared.errors import MalformedRequest

# AWS Lambda's synchronous response limit, 6 MB (quotas page above); counted here as 6 MiB, the
# larger reading, only to check the budgets against it (tests/unit/test_paging.py).
LAMBDA_RESPONSE_LIMIT_BYTES: Final = 6 * 1024 * 1024
# Each personal store's first page in the access report (`GET /v1/me`). Eight personal stores
# today: 8 x 256 KiB = 2 MiB, a third of the limit, so a store or two more still fit.
REPORT_STORE_BUDGET_BYTES: Final = 256 * 1024
# One page of one store on its own route (`GET /v1/me/stores/{store}`, the staff interactions).
PAGE_BUDGET_BYTES: Final = 1024 * 1024
# What the report holds besides its stores' pages (ids, account, retention, open requests) is
# bounded by the declarations and stays far below this; the unit test checks the sum.
REPORT_ENVELOPE_BYTES: Final = 64 * 1024
# A cursor longer than this is refused before it is decoded. The position it carries is a sort key
# or a relative object key: the longest this system writes (`read#<time>#<uuid>`) is 66 bytes, and
# 512 keeps the customer's prefix plus the position under DynamoDB's and S3's 1,024-byte keys.
MAX_CURSOR_CHARS: Final = 1024
MAX_POSITION_BYTES: Final = 512
CURSOR_VERSION: Final = 1

T = TypeVar("T")


def wire_size(value: Any) -> int:
    """The bytes `value` takes in the Lambda proxy response: JSON (ASCII-escaped) embedded in a JSON string.

    Measured as Powertools serializes (`separators=(",", ":")`, `ensure_ascii`), then as the
    runtime writes the proxy response's `body` string (quotes and backslashes escaped again);
    the two enclosing quotes are not counted. Values JSON cannot hold are written with `str`.
    """
    body = json.dumps(value, separators=(",", ":"), ensure_ascii=True, default=str)
    return len(json.dumps(body)) - 2


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a store: its `items` (in the store's order), and the cursor of the next page or None."""

    items: list[T]
    next_cursor: str | None


def take(store: str, entries: Iterator[tuple[str, T]], budget: int, measure: Callable[[T], int] = wire_size) -> Page[T]:
    """The first items of `entries` (position, item) whose wire sizes add up to at most `budget` bytes.

    At least one item is taken, whatever its size. When an item is left over, `next_cursor` resumes
    after the last item taken; when `entries` ran out, it is None. At most one item past the page is
    drawn from `entries` (to know whether there is more).
    """
    items: list[T] = []
    used = 0
    last: str | None = None
    for position, item in entries:
        size = measure(item) + 1  # the comma between items
        if items and used + size > budget:
            return Page(items, encode(store, str(last)))
        items.append(item)
        used += size
        last = position
    return Page(items, None)


def encode(store: str, position: str) -> str:
    """The cursor that resumes `store`'s listing after `position` (a sort key or a relative object key)."""
    raw = json.dumps({"v": CURSOR_VERSION, "s": store, "k": position}, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def invalid_cursor(reason: str) -> MalformedRequest:
    """The 400 for a cursor this API did not issue for the store asked (`reason` is a fixed phrase, never the value)."""
    return MalformedRequest(
        "The cursor is not one this API issued for this store; start again without it.",
        {"parameter": "cursor", "reason": reason},
    )


def decode(store: str, cursor: str | None) -> str | None:
    """The position a cursor for `store` resumes after, or None without a cursor (the first page).

    Raises `MalformedRequest` (400, `details.parameter` = `cursor`) for a cursor longer than
    `MAX_CURSOR_CHARS`, not base64url, not the JSON object `encode` writes, of another version or
    store, or whose position is empty, not UTF-8 encodable or longer than `MAX_POSITION_BYTES`.
    """
    if cursor is None:
        return None
    if len(cursor) > MAX_CURSOR_CHARS:
        raise invalid_cursor("too long")
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4))
        found = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeError, binascii.Error, RecursionError):
        raise invalid_cursor("not a cursor") from None
    if not isinstance(found, dict) or set(found) != {"v", "s", "k"} or type(found["v"]) is not int:
        raise invalid_cursor("not a cursor")
    if found["v"] != CURSOR_VERSION:
        raise invalid_cursor("not a cursor")
    if found["s"] != store:
        raise invalid_cursor("issued for another store")
    position = found["k"]
    if not isinstance(position, str) or not position:
        raise invalid_cursor("not a cursor")
    try:
        encoded = position.encode("utf-8")
    except UnicodeError:
        raise invalid_cursor("not a cursor") from None
    if len(encoded) > MAX_POSITION_BYTES:
        raise invalid_cursor("too long")
    return position
