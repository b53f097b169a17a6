"""Encrypted attributes of a store item, in one convention every store shares.

An item keeps its personal values in a `fields` map, each sealed with the customer's key and
bound to `<item sort key value>.<field name>` in that store — so a value copied to another
item, field, store or customer does not decrypt.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from custody.crypto import cipher

FIELDS: Final = "fields"


def seal(key: cipher.SubjectKey, store: str, item_key: str, values: Mapping[str, Any]) -> dict[str, str]:
    return {
        name: cipher.encrypt_json(key, key.subject_id, store, f"{item_key}.{name}", value)
        for name, value in values.items()
    }


def unseal(key: cipher.SubjectKey, store: str, item_key: str, fields: Mapping[str, str]) -> dict[str, Any]:
    return {
        name: cipher.decrypt_json(key, key.subject_id, store, f"{item_key}.{name}", token)
        for name, token in fields.items()
    }


def is_sealed(item: Mapping[str, Any]) -> bool:
    return bool(item.get(FIELDS))
