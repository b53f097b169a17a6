"""Field and document encryption under a customer's data key (AES-256-GCM).

Every personal value is sealed with the owner's 256-bit data key, a fresh random 96-bit
nonce, and associated data that binds it to where it belongs: the subject, the store and
the field (or document). A value copied to another customer, store or field — or altered
in any bit — fails authentication and raises `DecryptionFailed`.

Formats (the version is checked on decrypt; an unknown version is refused):

* field, text: ``cc1.`` + unpadded base64url of ``nonce (12) | ciphertext | tag (16)``.
  The plaintext carries a one-byte type tag (text, bytes or JSON), so it round-trips to
  the type it was given and the type is authenticated with it.
* document, bytes: ``b"ccd1"`` + ``nonce (12) | ciphertext | tag (16)``; no type tag.

Associated data is the concatenation of each of (format id, subject id, store, field), UTF-8
encoded and prefixed by its 4-byte big-endian length, so ("ab", "c") and ("a", "bc") differ.

Random nonces are safe for far more than 2**32 messages per key; a customer's key seals
a few thousand at most. Neither plaintext nor ciphertext ever appears in an exception.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from custody.declared.errors import DecryptionFailed

KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16

FIELD_FORMAT: Final = "cc1"
FIELD_PREFIX: Final = FIELD_FORMAT + "."
DOCUMENT_FORMAT: Final = "ccd1"
DOCUMENT_MAGIC: Final = DOCUMENT_FORMAT.encode("ascii")

_TEXT: Final = b"t"
_BYTES: Final = b"b"
_JSON: Final = b"j"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")

JsonValue: TypeAlias = bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None


@dataclass(frozen=True, slots=True)
class SubjectKey:
    """A customer's unwrapped data key. Its repr never shows the key material.

    `material` is the 32-byte AES-256 key; `version` the `key_version` it is stored under. Raises
    `ValueError` for an empty subject id or material of another length.
    """

    subject_id: str
    material: bytes = field(repr=False)
    version: str = "1"

    def __post_init__(self) -> None:
        if not self.subject_id:
            raise ValueError("A subject key needs a subject id.")
        if len(self.material) != KEY_BYTES:
            raise ValueError(f"A subject key must be {KEY_BYTES} bytes long.")


def encrypt_field(key: SubjectKey | bytes, subject_id: str, store: str, field: str, value: str | bytes) -> str:
    """Seal a text or bytes value for (subject, store, field); returns ``cc1.…`` text."""
    if isinstance(value, str):
        return _seal_field(key, subject_id, store, field, _TEXT + value.encode("utf-8"))
    if isinstance(value, bytes | bytearray | memoryview):
        return _seal_field(key, subject_id, store, field, _BYTES + bytes(value))
    raise TypeError(f"Only str or bytes can be encrypted as a field, not {type(value).__name__}.")


def decrypt_field(key: SubjectKey | bytes, subject_id: str, store: str, field: str, token: str) -> str | bytes:
    """Open a value sealed by `encrypt_field` (or `encrypt_json`, which opens as its JSON text)."""
    tag, payload = _open_field(key, subject_id, store, field, token)
    if tag == _BYTES:
        return payload
    return _utf8(payload, subject_id, store, field)


def decrypt_text(key: SubjectKey | bytes, subject_id: str, store: str, field: str, token: str) -> str:
    """Like `decrypt_field`, but the value must have been sealed as text."""
    tag, payload = _open_field(key, subject_id, store, field, token)
    if tag != _TEXT:
        raise _failure(subject_id, store, field, "unexpected_type")
    return _utf8(payload, subject_id, store, field)


def decrypt_bytes(key: SubjectKey | bytes, subject_id: str, store: str, field: str, token: str) -> bytes:
    """Like `decrypt_field`, but the value must have been sealed as bytes."""
    tag, payload = _open_field(key, subject_id, store, field, token)
    if tag != _BYTES:
        raise _failure(subject_id, store, field, "unexpected_type")
    return payload


def encrypt_json(key: SubjectKey | bytes, subject_id: str, store: str, field: str, value: JsonValue) -> str:
    """Seal a structured value (an address, a list of allergies) as canonical JSON."""
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        text = None
    if text is None:
        raise ValueError(f"The value of field {field!r} is not JSON-serializable.")
    return _seal_field(key, subject_id, store, field, _JSON + text.encode("utf-8"))


def decrypt_json(key: SubjectKey | bytes, subject_id: str, store: str, field: str, token: str) -> Any:
    """Open a value sealed by `encrypt_json`."""
    tag, payload = _open_field(key, subject_id, store, field, token)
    if tag != _JSON:
        raise _failure(subject_id, store, field, "unexpected_type")
    # Sealed from json.dumps output and authenticated: it parses.
    return json.loads(_utf8(payload, subject_id, store, field))


def encrypt_document(key: SubjectKey | bytes, subject_id: str, store: str, document_id: str, data: bytes) -> bytes:
    """Seal a document's bytes for (subject, store, document id); returns ``ccd1…`` bytes."""
    aad = _associated_data(DOCUMENT_FORMAT, subject_id, store, document_id)
    return DOCUMENT_MAGIC + _seal(_material(key, subject_id), aad, bytes(data))


def decrypt_document(key: SubjectKey | bytes, subject_id: str, store: str, document_id: str, blob: bytes) -> bytes:
    """Open a document sealed by `encrypt_document`."""
    aad = _associated_data(DOCUMENT_FORMAT, subject_id, store, document_id)
    if not blob.startswith(DOCUMENT_MAGIC):
        raise _failure(subject_id, store, document_id, "unknown_format")
    plaintext = _open(_material(key, subject_id), aad, blob[len(DOCUMENT_MAGIC) :])
    if plaintext is None:
        raise _failure(subject_id, store, document_id, "authentication")
    return plaintext


def is_encrypted_field(value: object) -> bool:
    """Whether a stored value has the shape of a sealed field (says nothing of its validity)."""
    return isinstance(value, str) and value.startswith(FIELD_PREFIX)


def _seal_field(key: SubjectKey | bytes, subject_id: str, store: str, field: str, plaintext: bytes) -> str:
    aad = _associated_data(FIELD_FORMAT, subject_id, store, field)
    sealed = _seal(_material(key, subject_id), aad, plaintext)
    return FIELD_PREFIX + base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")


def _open_field(key: SubjectKey | bytes, subject_id: str, store: str, field: str, token: str) -> tuple[bytes, bytes]:
    aad = _associated_data(FIELD_FORMAT, subject_id, store, field)
    material = _material(key, subject_id)
    if not isinstance(token, str) or not token.startswith(FIELD_PREFIX):
        raise _failure(subject_id, store, field, "unknown_format")
    sealed = _b64decode_canonical(token[len(FIELD_PREFIX) :])
    if sealed is None:
        raise _failure(subject_id, store, field, "malformed")
    plaintext = _open(material, aad, sealed)
    if plaintext is None:
        raise _failure(subject_id, store, field, "authentication")
    tag, payload = plaintext[:1], plaintext[1:]
    if tag not in (_TEXT, _BYTES, _JSON):
        raise _failure(subject_id, store, field, "unexpected_type")
    return tag, payload


def _seal(material: bytes, aad: bytes, plaintext: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(material).encrypt(nonce, plaintext, aad)


def _open(material: bytes, aad: bytes, sealed: bytes) -> bytes | None:
    # Failures return None so no exception raised from here chains a cause with data in it.
    if len(sealed) < NONCE_BYTES + TAG_BYTES:
        return None
    try:
        return AESGCM(material).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except InvalidTag:
        return None


def _associated_data(format_id: str, subject_id: str, store: str, field: str) -> bytes:
    parts = (format_id, subject_id, store, field)
    if not all(isinstance(part, str) and part for part in parts):
        raise ValueError("Subject id, store and field must be non-empty strings.")
    encoded = [part.encode("utf-8") for part in parts]
    return b"".join(len(part).to_bytes(4, "big") + part for part in encoded)


def _material(key: SubjectKey | bytes, subject_id: str) -> bytes:
    if isinstance(key, SubjectKey):
        if key.subject_id != subject_id:
            raise ValueError("This data key belongs to another subject.")
        return key.material
    if len(key) != KEY_BYTES:
        raise ValueError(f"A data key must be {KEY_BYTES} bytes long.")
    return bytes(key)


def _b64decode_canonical(text: str) -> bytes | None:
    if not _BASE64URL.fullmatch(text):
        return None
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    # Only the one canonical spelling is accepted (no stray trailing bits).
    if base64.urlsafe_b64encode(decoded).rstrip(b"=").decode("ascii") != text:
        return None
    return decoded


def _utf8(payload: bytes, subject_id: str, store: str, field: str) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        pass
    raise _failure(subject_id, store, field, "unexpected_type")


def _failure(subject_id: str, store: str, field: str, reason: str) -> DecryptionFailed:
    return DecryptionFailed(
        "A stored value could not be decrypted for this subject, store and field.",
        {"subject_id": subject_id, "store": store, "field": field, "reason": reason},
    )
