"""Field and document encryption: bound to subject, store and field; tamper-evident; versioned."""

from __future__ import annotations

import base64
import os
import re
from typing import Any

import pytest

from custody.crypto import cipher
from custody.crypto.cipher import (
    DOCUMENT_MAGIC,
    FIELD_PREFIX,
    NONCE_BYTES,
    TAG_BYTES,
    SubjectKey,
    decrypt_bytes,
    decrypt_document,
    decrypt_field,
    decrypt_json,
    decrypt_text,
    encrypt_document,
    encrypt_field,
    encrypt_json,
    is_encrypted_field,
)
from custody.declared.errors import DecryptionFailed

A, B = "subject-a", "subject-b"
STORE, FIELD = "profiles", "phone"


@pytest.fixture
def key_a() -> SubjectKey:
    return SubjectKey(A, os.urandom(32))


@pytest.fixture
def key_b() -> SubjectKey:
    return SubjectKey(B, os.urandom(32))


def _body(token: str) -> bytes:
    body = token.removeprefix(FIELD_PREFIX)
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


def _token(sealed: bytes) -> str:
    return FIELD_PREFIX + base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def _reason(error: pytest.ExceptionInfo[DecryptionFailed]) -> str:
    return str(error.value.details["reason"])


@pytest.mark.parametrize(
    "value",
    ["+84 90 123 4567", "", "Nguyễn Thị Minh Khai, Quận 1 — 🏠", "\x00nul", "x" * 100_000],
    ids=["ascii", "empty", "unicode", "nul", "long"],
)
def test_text_round_trips(key_a: SubjectKey, value: str) -> None:
    token = encrypt_field(key_a, A, STORE, FIELD, value)
    opened = decrypt_field(key_a, A, STORE, FIELD, token)
    assert opened == value
    assert isinstance(opened, str)
    assert decrypt_text(key_a, A, STORE, FIELD, token) == value


@pytest.mark.parametrize("value", [b"", b"\x00\xff" * 10, os.urandom(2 * 1024 * 1024)], ids=["empty", "binary", "2MiB"])
def test_bytes_round_trip_as_bytes(key_a: SubjectKey, value: bytes) -> None:
    token = encrypt_field(key_a, A, STORE, FIELD, value)
    opened = decrypt_field(key_a, A, STORE, FIELD, token)
    assert opened == value
    assert isinstance(opened, bytes)
    assert decrypt_bytes(key_a, A, STORE, FIELD, token) == value


def test_text_that_looks_like_bytes_stays_text(key_a: SubjectKey) -> None:
    token = encrypt_field(key_a, A, STORE, FIELD, "b")
    assert decrypt_field(key_a, A, STORE, FIELD, token) == "b"


def test_raw_key_bytes_are_accepted(key_a: SubjectKey) -> None:
    token = encrypt_field(key_a.material, A, STORE, FIELD, "value")
    assert decrypt_field(key_a, A, STORE, FIELD, token) == "value"


def test_field_format_is_versioned_base64url_of_nonce_ciphertext_tag(key_a: SubjectKey) -> None:
    value = "hello"
    token = encrypt_field(key_a, A, STORE, FIELD, value)
    assert token.startswith("cc1.")
    assert is_encrypted_field(token)
    assert not is_encrypted_field("hello")
    assert re.fullmatch(r"cc1\.[A-Za-z0-9_-]+", token)
    # nonce + (type tag + plaintext) + tag
    assert len(_body(token)) == NONCE_BYTES + 1 + len(value) + TAG_BYTES


def test_each_encryption_uses_a_fresh_nonce(key_a: SubjectKey) -> None:
    tokens = {encrypt_field(key_a, A, STORE, FIELD, "same") for _ in range(50)}
    nonces = {_body(token)[:NONCE_BYTES] for token in tokens}
    assert len(tokens) == 50
    assert len(nonces) == 50


@pytest.mark.parametrize("prefix", ["cc2.", "cc0.", "CC1.", "cc1:", "", "ccd1"])
def test_unknown_version_or_prefix_is_refused(key_a: SubjectKey, prefix: str) -> None:
    token = encrypt_field(key_a, A, STORE, FIELD, "value")
    with pytest.raises(DecryptionFailed) as error:
        decrypt_field(key_a, A, STORE, FIELD, prefix + token.removeprefix(FIELD_PREFIX))
    assert _reason(error) == "unknown_format"


def test_a_value_does_not_open_with_another_customers_key(key_a: SubjectKey, key_b: SubjectKey) -> None:
    token = encrypt_field(key_a, A, STORE, FIELD, "secret")
    with pytest.raises(DecryptionFailed):
        decrypt_field(key_b, B, STORE, FIELD, token)
    # Same subject id and slot, wrong key material: the key itself matters, not only the binding.
    with pytest.raises(DecryptionFailed) as error:
        decrypt_field(key_b.material, A, STORE, FIELD, token)
    assert _reason(error) == "authentication"


def test_a_value_is_bound_to_its_subject_even_under_the_same_key(key_a: SubjectKey) -> None:
    token = encrypt_field(key_a.material, A, STORE, FIELD, "secret")
    with pytest.raises(DecryptionFailed) as error:
        decrypt_field(key_a.material, B, STORE, FIELD, token)
    assert _reason(error) == "authentication"


def test_a_value_does_not_open_as_another_field(key_a: SubjectKey) -> None:
    token = encrypt_field(key_a, A, STORE, "phone", "secret")
    with pytest.raises(DecryptionFailed) as error:
        decrypt_field(key_a, A, STORE, "address", token)
    assert _reason(error) == "authentication"


def test_a_value_does_not_open_as_another_stores(key_a: SubjectKey) -> None:
    token = encrypt_field(key_a, A, "profiles", FIELD, "secret")
    with pytest.raises(DecryptionFailed) as error:
        decrypt_field(key_a, A, "interactions", FIELD, token)
    assert _reason(error) == "authentication"


@pytest.mark.parametrize(
    ("sealed_for", "opened_as"),
    [
        (("ab", "c", FIELD), ("a", "bc", FIELD)),
        ((A, "ab", "c"), (A, "a", "bc")),
        (("a|b", "c", FIELD), ("a", "b|c", FIELD)),
        (("a\x00", "b", FIELD), ("a", "\x00b", FIELD)),
    ],
)
def test_associated_data_is_unambiguous(
    key_a: SubjectKey, sealed_for: tuple[str, str, str], opened_as: tuple[str, str, str]
) -> None:
    token = encrypt_field(key_a.material, *sealed_for, "secret")
    with pytest.raises(DecryptionFailed):
        decrypt_field(key_a.material, *opened_as, token)


@pytest.mark.parametrize("position", [0, NONCE_BYTES - 1, NONCE_BYTES, NONCE_BYTES + 3, -TAG_BYTES, -1])
def test_any_flipped_bit_fails_authentication(key_a: SubjectKey, position: int) -> None:
    sealed = bytearray(_body(encrypt_field(key_a, A, STORE, FIELD, "secret value")))
    sealed[position] ^= 0x01
    with pytest.raises(DecryptionFailed) as error:
        decrypt_field(key_a, A, STORE, FIELD, _token(bytes(sealed)))
    assert _reason(error) == "authentication"


def test_truncated_or_extended_ciphertext_fails(key_a: SubjectKey) -> None:
    sealed = _body(encrypt_field(key_a, A, STORE, FIELD, "secret value"))
    for altered in (sealed[:-1], sealed + b"\x00", sealed[: NONCE_BYTES + TAG_BYTES - 1], b""):
        with pytest.raises(DecryptionFailed):
            decrypt_field(key_a, A, STORE, FIELD, _token(altered))


@pytest.mark.parametrize("mangle", [lambda t: t + "=", lambda t: t + "A", lambda t: t[:-1] + "+", lambda t: t + " "])
def test_malformed_encoding_is_refused(key_a: SubjectKey, mangle: Any) -> None:
    token = encrypt_field(key_a, A, STORE, FIELD, "secret")
    with pytest.raises(DecryptionFailed) as error:
        decrypt_field(key_a, A, STORE, FIELD, mangle(token))
    assert _reason(error) in ("malformed", "authentication")


def test_only_the_canonical_base64_spelling_is_accepted(key_a: SubjectKey) -> None:
    token = encrypt_field(key_a, A, STORE, FIELD, "secret")
    # 35 sealed bytes: the last base64 character carries 2 unused bits, which a lenient
    # decoder ignores. Setting one gives a second spelling of the same bytes.
    assert len(_body(token)) % 3 == 2
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(token[-1])
    variant = token[:-1] + alphabet[last ^ 0b01]
    assert _body(variant) == _body(token)
    with pytest.raises(DecryptionFailed) as error:
        decrypt_field(key_a, A, STORE, FIELD, variant)
    assert _reason(error) == "malformed"


def test_failure_names_the_slot_but_never_the_ciphertext_or_plaintext(key_a: SubjectKey, key_b: SubjectKey) -> None:
    plaintext = "4111 1111 1111 1111"
    token = encrypt_field(key_a, A, STORE, "card_number", plaintext)
    with pytest.raises(DecryptionFailed) as error:
        decrypt_field(key_b, B, STORE, "card_number", token)
    failure = error.value
    assert failure.details == {"subject_id": B, "store": STORE, "field": "card_number", "reason": "authentication"}
    rendered = " ".join([str(failure), repr(failure), repr(failure.to_body())])
    body = token.removeprefix(FIELD_PREFIX)
    for secret in (plaintext, body, body[:16], key_a.material.hex(), key_b.material.hex()):
        assert secret not in rendered
    # No chained exception carries anything either.
    assert failure.__cause__ is None
    assert failure.__context__ is None


def test_an_authentic_value_that_is_not_utf8_fails_without_chaining_it(key_a: SubjectKey) -> None:
    # Only a buggy writer could seal this (a text tag over invalid UTF-8): build it by hand.
    token = cipher._seal_field(key_a, A, STORE, FIELD, b"t\xffsecret\xfe")
    with pytest.raises(DecryptionFailed) as error:
        decrypt_text(key_a, A, STORE, FIELD, token)
    assert _reason(error) == "unexpected_type"
    assert error.value.__cause__ is None
    assert error.value.__context__ is None


def test_json_values_round_trip_and_are_canonical(key_a: SubjectKey) -> None:
    address: dict[str, Any] = {"street": "12 Lê Lợi", "city": "Huế", "lines": ["a", "b"], "floor": 3, "gate": None}
    token = encrypt_json(key_a, A, STORE, "address", address)
    assert decrypt_json(key_a, A, STORE, "address", token) == address
    reordered = dict(reversed(list(address.items())))
    assert decrypt_field(key_a, A, STORE, "address", encrypt_json(key_a, A, STORE, "address", reordered)) == (
        decrypt_field(key_a, A, STORE, "address", token)
    )


def test_json_rejects_values_it_cannot_represent(key_a: SubjectKey) -> None:
    with pytest.raises(ValueError, match="address"):
        encrypt_json(key_a, A, STORE, "address", {"x": float("nan")})
    unserializable: Any = {"x": object()}
    with pytest.raises(ValueError, match="address"):
        encrypt_json(key_a, A, STORE, "address", unserializable)


def test_a_value_opens_only_as_the_type_it_was_sealed_as(key_a: SubjectKey) -> None:
    text = encrypt_field(key_a, A, STORE, FIELD, "text")
    data = encrypt_field(key_a, A, STORE, FIELD, b"bytes")
    structured = encrypt_json(key_a, A, STORE, FIELD, ["json"])
    for opener, token in (
        (decrypt_bytes, text),
        (decrypt_json, text),
        (decrypt_text, data),
        (decrypt_json, data),
        (decrypt_text, structured),
        (decrypt_bytes, structured),
    ):
        with pytest.raises(DecryptionFailed) as error:
            opener(key_a, A, STORE, FIELD, token)
        assert _reason(error) == "unexpected_type"


def test_documents_round_trip_with_their_own_framing(key_a: SubjectKey) -> None:
    content = os.urandom(5 * 1024 * 1024)
    blob = encrypt_document(key_a, A, "documents", "doc-1", content)
    assert blob.startswith(DOCUMENT_MAGIC)
    assert len(blob) == len(DOCUMENT_MAGIC) + NONCE_BYTES + len(content) + TAG_BYTES
    assert decrypt_document(key_a, A, "documents", "doc-1", blob) == content
    assert (
        decrypt_document(key_a, A, "documents", "doc-2", encrypt_document(key_a, A, "documents", "doc-2", b"")) == b""
    )


def test_documents_are_bound_and_tamper_evident(key_a: SubjectKey, key_b: SubjectKey) -> None:
    blob = encrypt_document(key_a, A, "documents", "doc-1", b"%PDF-1.7 scan of a passport")
    for key, subject, store, document_id in (
        (key_b, B, "documents", "doc-1"),
        (key_a, A, "documents", "doc-2"),
        (key_a, A, "exports", "doc-1"),
    ):
        with pytest.raises(DecryptionFailed):
            decrypt_document(key, subject, store, document_id, blob)
    tampered = bytearray(blob)
    tampered[-1] ^= 0x80
    with pytest.raises(DecryptionFailed):
        decrypt_document(key_a, A, "documents", "doc-1", bytes(tampered))
    with pytest.raises(DecryptionFailed) as error:
        decrypt_document(key_a, A, "documents", "doc-1", b"ccd2" + blob[4:])
    assert _reason(error) == "unknown_format"


def test_fields_and_documents_cannot_be_swapped(key_a: SubjectKey) -> None:
    sealed_field = _body(encrypt_field(key_a, A, "documents", "doc-1", b"content"))
    with pytest.raises(DecryptionFailed):
        decrypt_document(key_a, A, "documents", "doc-1", DOCUMENT_MAGIC + sealed_field)
    sealed_document = encrypt_document(key_a, A, "documents", "doc-1", b"tcontent")[len(DOCUMENT_MAGIC) :]
    with pytest.raises(DecryptionFailed):
        decrypt_field(key_a, A, "documents", "doc-1", _token(sealed_document))


def test_subject_key_never_shows_its_material(key_a: SubjectKey) -> None:
    assert key_a.material.hex() not in repr(key_a)
    assert repr(key_a.material) not in repr(key_a)
    assert "material" not in repr(key_a)


def test_keys_of_the_wrong_size_or_owner_are_refused(key_a: SubjectKey) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SubjectKey(A, b"short")
    with pytest.raises(ValueError, match="32 bytes"):
        encrypt_field(os.urandom(16), A, STORE, FIELD, "value")
    with pytest.raises(ValueError, match="another subject"):
        encrypt_field(key_a, B, STORE, FIELD, "value")
    with pytest.raises(ValueError, match="non-empty"):
        encrypt_field(key_a, A, "", FIELD, "value")
