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
    """Seal each value of `values` (field name -> JSON value) for the item `item_key` of `store`.

    Returns field name -> `cc1.` token, each bound to this subject, `store` and `<item_key>.<name>`.
    Raises `ValueError` for a value JSON cannot encode (NaN and infinities included) or an empty store
    name.
    """
    return {
        name: cipher.encrypt_json(key, key.subject_id, store, f"{item_key}.{name}", value)
        for name, value in values.items()
    }


def unseal(key: cipher.SubjectKey, store: str, item_key: str, fields: Mapping[str, str]) -> dict[str, Any]:
    """Open a `fields` map sealed by `seal`: field name -> the JSON value it was given.

    Raises `DecryptionFailed` for a token that does not authenticate under this subject, `store` and
    `<item_key>.<name>` (copied, altered, or sealed with another key).
    """
    return {
        name: cipher.decrypt_json(key, key.subject_id, store, f"{item_key}.{name}", token)
        for name, token in fields.items()
    }


def is_sealed(item: Mapping[str, Any]) -> bool:
    """Whether a stored item carries a non-empty `fields` map (sealed values)."""
    return bool(item.get(FIELDS))
