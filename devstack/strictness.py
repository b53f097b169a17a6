"""What DynamoDB refuses and moto accepts, refused locally too (installed by `devstack.patches`).

* A `BatchWriteItem` delete whose `Key` is not exactly the table's key attributes: DynamoDB
  answers `ValidationException` ("The provided key element does not match the schema") for the
  whole batch; moto deletes by whatever it can read. (Its `DeleteItem`, `GetItem` and
  `UpdateItem` already refuse such a key.)

The check is the request's, so it is the same for every caller: a function, a test, a tool.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from moto.dynamodb.exceptions import MockValidationException
from moto.dynamodb.responses import DynamoHandler

_ORIGINAL: dict[str, Callable[..., Any]] = {}


def _checked_batch_write(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def batch_write_item(self: DynamoHandler) -> Any:
        for table_name, requests in (self.body.get("RequestItems") or {}).items():
            table = self.dynamodb_backend.get_table(table_name)
            schema = {table.hash_key_attr, *([table.range_key_attr] if table.range_key_attr else [])}
            for request in requests:
                key = (request.get("DeleteRequest") or {}).get("Key")
                if key is not None and set(key) != schema:
                    raise MockValidationException("The provided key element does not match the schema")
        return original(self)

    return batch_write_item


def install() -> None:
    if "batch_write_item" not in _ORIGINAL:
        _ORIGINAL["batch_write_item"] = DynamoHandler.batch_write_item
        DynamoHandler.batch_write_item = _checked_batch_write(DynamoHandler.batch_write_item)  # type: ignore[method-assign]


def uninstall() -> None:
    original = _ORIGINAL.pop("batch_write_item", None)
    if original is not None:
        DynamoHandler.batch_write_item = original  # type: ignore[method-assign]
