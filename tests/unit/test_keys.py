"""Subject keys on moto: envelope encryption, crypto-shredding and the bounded, expiring cache."""

from __future__ import annotations

import base64
import logging
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from custody.crypto.cipher import SubjectKey, decrypt_field, encrypt_field
from custody.crypto.keyring import KEY_VERSION, KeyCache, SubjectKeyring, get_keyring
from custody.declared.errors import DecryptionFailed, SubjectKeyUnavailable
from custody.declared.settings import Settings
from custody.platform.aws import WIRE_LOGGERS, clients, reset_clients
from custody.stores import dynamo

A, B = "subject-a", "subject-b"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class AwsCalls:
    """Every API call the process-wide KMS and DynamoDB clients make, as "service.Operation"."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, event_name: str, **_: Any) -> None:
        self.names.append(event_name.removeprefix("before-call."))

    def count(self, name: str) -> int:
        return self.names.count(name)

    def clear(self) -> None:
        self.names.clear()


@pytest.fixture(scope="module")
def _kms() -> Iterator[None]:
    """One mocked account per module: creating a KMS key costs a tenth of a second."""
    with mock_aws():
        reset_clients()
        kms = clients.kms()
        key_id = kms.create_key(Description="data key")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=Settings().data_key_id, TargetKeyId=key_id)
        yield
    reset_clients()


@pytest.fixture
def settings() -> Settings:
    # A table of its own for every test, under the module's one KMS key.
    return Settings(resource_prefix=f"t-{uuid.uuid4().hex[:12]}", key_cache_max_entries=3, key_cache_ttl_seconds=60)


@pytest.fixture
def aws(_kms: None, settings: Settings) -> None:
    clients.dynamodb().create_table(
        TableName=settings.table("subject_keys"),
        KeySchema=[
            {"AttributeName": "subject_id", "KeyType": "HASH"},
            {"AttributeName": "key_version", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "subject_id", "AttributeType": "S"},
            {"AttributeName": "key_version", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def calls(aws: None) -> Iterator[AwsCalls]:
    recorder = AwsCalls()
    watched = (clients.kms(), clients.dynamodb())
    for client in watched:
        client.meta.events.register("before-call", recorder)
    yield recorder
    for client in watched:
        client.meta.events.unregister("before-call", recorder)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def keyring(settings: Settings, aws: None, clock: FakeClock) -> SubjectKeyring:
    return SubjectKeyring(settings, clock=clock)


def _fresh(settings: Settings) -> SubjectKeyring:
    """Another process: same table and KMS key, empty cache."""
    return SubjectKeyring(settings)


def _stored_items(settings: Settings, subject_id: str) -> list[dict[str, Any]]:
    return list(
        clients.dynamodb().query(
            TableName=settings.table("subject_keys"),
            KeyConditionExpression="subject_id = :s",
            ExpressionAttributeValues={":s": {"S": subject_id}},
            ConsistentRead=True,
        )["Items"]
    )


def test_create_stores_only_the_wrapped_key(keyring: SubjectKeyring, settings: Settings) -> None:
    key = keyring.create(A)
    assert isinstance(key, SubjectKey)
    assert key.subject_id == A
    assert len(key.material) == 32

    [item] = _stored_items(settings, A)
    assert item["key_version"] == {"S": KEY_VERSION}
    wrapped = item["wrapped_key"]["B"]
    assert key.material not in wrapped
    assert all(key.material not in value.get("B", b"") for value in item.values())


def test_another_process_unwraps_the_same_key(keyring: SubjectKeyring, settings: Settings) -> None:
    created = keyring.create(A)
    assert _fresh(settings).get(A).material == created.material


def test_customers_get_different_keys(keyring: SubjectKeyring) -> None:
    assert keyring.create(A).material != keyring.create(B).material


def test_missing_key_is_unavailable_with_a_clear_error(keyring: SubjectKeyring) -> None:
    with pytest.raises(SubjectKeyUnavailable) as error:
        keyring.get(A)
    assert error.value.status == 410
    assert error.value.code == "subject_key_unavailable"
    assert error.value.details == {"subject_id": A}
    assert "shredded" in error.value.message


def test_get_or_create_creates_once(keyring: SubjectKeyring, settings: Settings, calls: AwsCalls) -> None:
    first = keyring.get_or_create(A)
    again = _fresh(settings).get_or_create(A)
    assert again.material == first.material
    assert calls.count("kms.GenerateDataKey") == 1
    assert len(_stored_items(settings, A)) == 1


def test_exists_asks_the_table(keyring: SubjectKeyring, settings: Settings) -> None:
    assert not keyring.exists(A)
    keyring.create(A)
    assert keyring.exists(A)
    assert _fresh(settings).exists(A)


def test_a_cache_hit_makes_no_aws_call(keyring: SubjectKeyring, calls: AwsCalls) -> None:
    created = keyring.create(A)
    calls.clear()
    for _ in range(5):
        assert keyring.get(A).material == created.material
        assert keyring.get_or_create(A).material == created.material
    assert calls.names == []


def test_a_cache_miss_reads_the_table_and_unwraps_once(
    keyring: SubjectKeyring, settings: Settings, calls: AwsCalls
) -> None:
    keyring.create(A)
    other = _fresh(settings)
    calls.clear()
    other.get(A)
    other.get(A)
    assert calls.names == ["dynamodb.GetItem", "kms.Decrypt"]


def test_kms_enforces_the_subject_encryption_context(keyring: SubjectKeyring, settings: Settings) -> None:
    key = keyring.create(A)
    wrapped = _stored_items(settings, A)[0]["wrapped_key"]["B"]
    kms = clients.kms()
    for context in ({"subject_id": B}, {}, {"subject_id": A, "extra": "x"}):
        with pytest.raises(ClientError) as error:
            kms.decrypt(CiphertextBlob=wrapped, EncryptionContext=context)
        assert error.value.response["Error"]["Code"] == "InvalidCiphertextException"
    assert kms.decrypt(CiphertextBlob=wrapped, EncryptionContext={"subject_id": A})["Plaintext"] == key.material


def test_a_wrapped_key_moved_to_another_customer_does_not_unwrap(keyring: SubjectKeyring, settings: Settings) -> None:
    keyring.create(A)
    [item] = _stored_items(settings, A)
    item["subject_id"] = {"S": B}
    clients.dynamodb().put_item(TableName=settings.table("subject_keys"), Item=item)

    with pytest.raises(DecryptionFailed) as error:
        _fresh(settings).get(B)
    assert error.value.details == {"subject_id": B, "store": "subject_keys", "field": "wrapped_key"}
    assert error.value.__context__ is None


def test_shred_makes_old_ciphertext_unreadable_everywhere(keyring: SubjectKeyring, settings: Settings) -> None:
    key = keyring.create(A)
    token = encrypt_field(key, A, "profiles", "phone", "+84 90 123 4567")
    keyring.create(B)

    assert keyring.shred(A) is True

    with pytest.raises(SubjectKeyUnavailable):
        keyring.get(A)  # the shredding process forgot it at once
    fresh = _fresh(settings)
    with pytest.raises(SubjectKeyUnavailable):
        fresh.get(A)  # and no process can unwrap it again
    assert not keyring.exists(A)
    assert keyring.shredded(A)
    [tombstone] = _stored_items(settings, A)
    assert set(tombstone) == {"subject_id", "key_version", "shredded_at"}  # no key material

    def read_phone() -> str | bytes:
        return decrypt_field(fresh.get(A), A, "profiles", "phone", token)

    with pytest.raises(SubjectKeyUnavailable):
        read_phone()
    # Another customer's key is untouched.
    assert fresh.exists(B)
    fresh.get(B)


def test_shred_is_idempotent(keyring: SubjectKeyring) -> None:
    keyring.create(A)
    assert keyring.shred(A) is True
    assert keyring.shred(A) is False
    assert keyring.shred("never-created") is False


def test_shred_deletes_every_stored_version(keyring: SubjectKeyring, settings: Settings) -> None:
    keyring.create(A)
    [item] = _stored_items(settings, A)
    item["key_version"] = {"S": "2"}
    clients.dynamodb().put_item(TableName=settings.table("subject_keys"), Item=item)
    assert len(_stored_items(settings, A)) == 2

    assert keyring.shred(A) is True
    [tombstone] = _stored_items(settings, A)
    assert tombstone["key_version"] == {"S": "1"}
    assert "wrapped_key" not in tombstone


def test_no_key_is_ever_created_again_after_a_shred(keyring: SubjectKeyring, settings: Settings) -> None:
    """Issue 16: a write in flight must not give an erased customer a fresh key (case 1's residue)."""
    keyring.create(A)
    keyring.shred(A)
    keyring.shred("never-created")  # a customer who never had a key is fenced too
    for subject in (A, "never-created"):
        with pytest.raises(SubjectKeyUnavailable):
            keyring.get_or_create(subject)
        with pytest.raises(SubjectKeyUnavailable):
            keyring.create(subject)
        pending = keyring.for_write(subject)
        assert pending.put is not None
        with pytest.raises(dynamo.TransactionConflict):
            dynamo.transact([pending.put])
        assert not keyring.exists(subject)
        assert keyring.shredded(subject)
    assert [set(item) for item in _stored_items(settings, A)] == [{"subject_id", "key_version", "shredded_at"}]


def test_the_cache_stays_bounded_and_evicts_the_least_recently_used(keyring: SubjectKeyring, calls: AwsCalls) -> None:
    subjects = [f"subject-{n}" for n in range(3)]
    for subject in subjects:
        keyring.create(subject)
    keyring.get("subject-0")  # now the most recently used
    keyring.create("subject-3")

    assert len(keyring.cache) == 3
    assert "subject-1" not in keyring.cache

    calls.clear()
    for subject in ("subject-0", "subject-2", "subject-3"):
        keyring.get(subject)
    assert calls.names == []
    keyring.get("subject-1")
    assert calls.names == ["dynamodb.GetItem", "kms.Decrypt"]

    for n in range(4, 20):
        keyring.create(f"subject-{n}")
    assert len(keyring.cache) == 3


def test_the_cache_expires(keyring: SubjectKeyring, clock: FakeClock, calls: AwsCalls) -> None:
    keyring.create(A)
    calls.clear()

    clock.now += 59.9
    keyring.get(A)
    assert calls.names == []

    clock.now += 0.1
    keyring.get(A)
    assert calls.names == ["dynamodb.GetItem", "kms.Decrypt"]

    calls.clear()
    keyring.get(A)  # refreshed by the reload
    assert calls.names == []


def test_the_cache_time_to_live_counts_from_insertion_not_use() -> None:
    clock = FakeClock()
    cache = KeyCache(max_entries=2, ttl_seconds=10, clock=clock)
    key = SubjectKey(A, b"\x01" * 32)
    cache.put(key)
    clock.now += 4
    assert cache.get(A) is key
    clock.now += 4
    assert cache.get(A) is key  # used 0 seconds ago, inserted 8 seconds ago
    clock.now += 2
    assert cache.get(A) is None
    assert len(cache) == 0


def test_the_cache_is_safe_under_concurrent_use() -> None:
    cache = KeyCache(max_entries=5, ttl_seconds=60)
    keys = [SubjectKey(f"s-{n}", bytes([n]) * 32) for n in range(50)]
    errors: list[BaseException] = []

    def churn(offset: int) -> None:
        try:
            for n in range(2_000):
                key = keys[(n + offset) % len(keys)]
                cache.put(key)
                found = cache.get(key.subject_id)
                assert found is None or found.subject_id == key.subject_id
                cache.evict(keys[(n * 7 + offset) % len(keys)].subject_id)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=churn, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(cache) <= 5


def test_concurrent_creates_yield_one_key(settings: Settings, aws: None, calls: AwsCalls) -> None:
    dynamodb = clients.dynamodb()
    both_generated = threading.Barrier(2, timeout=10)
    # DynamoDB applies conditional writes to one item atomically; moto's in-process
    # backend does not promise that, so the test serializes the puts as the service would.
    one_put_at_a_time = threading.Lock()

    def before_put(**_: Any) -> None:
        both_generated.wait()
        one_put_at_a_time.acquire()

    def after_put(**_: Any) -> None:
        one_put_at_a_time.release()

    dynamodb.meta.events.register("before-call.dynamodb.PutItem", before_put)
    dynamodb.meta.events.register("after-call.dynamodb.PutItem", after_put)
    dynamodb.meta.events.register("after-call-error.dynamodb.PutItem", after_put)

    results: list[SubjectKey] = []
    errors: list[BaseException] = []

    def create() -> None:
        try:
            results.append(SubjectKeyring(settings).create(A))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=create) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        dynamodb.meta.events.unregister("before-call.dynamodb.PutItem", before_put)
        dynamodb.meta.events.unregister("after-call.dynamodb.PutItem", after_put)
        dynamodb.meta.events.unregister("after-call-error.dynamodb.PutItem", after_put)

    assert errors == []
    assert calls.count("kms.GenerateDataKey") == 2  # both really raced
    assert len(results) == 2
    assert results[0].material == results[1].material
    assert len(_stored_items(settings, A)) == 1
    assert _fresh(settings).get(A).material == results[0].material


def test_a_create_that_loses_the_race_returns_the_winners_key(keyring: SubjectKeyring, settings: Settings) -> None:
    winner = keyring.create(A)
    wrapped_before = _stored_items(settings, A)[0]["wrapped_key"]

    loser = _fresh(settings)
    assert loser.create(A).material == winner.material
    assert _stored_items(settings, A)[0]["wrapped_key"] == wrapped_before
    assert loser.get(A).material == winner.material


def test_key_material_never_reaches_the_logs(settings: Settings, aws: None, caplog: pytest.LogCaptureFixture) -> None:
    for name in WIRE_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    reset_clients()
    caplog.set_level(logging.DEBUG)

    keyring = SubjectKeyring(settings)
    created = keyring.create(A)
    unwrapped = _fresh(settings).get(A)
    assert unwrapped.material == created.material

    assert caplog.records  # botocore did log at DEBUG: the check below is not vacuous
    logged = caplog.text + " ".join(repr(record.args) for record in caplog.records)
    for form in (
        base64.b64encode(created.material).decode(),
        created.material.hex(),
        repr(created.material)[2:-1],
    ):
        assert form not in logged


def test_errors_never_carry_key_material(keyring: SubjectKeyring, settings: Settings) -> None:
    key = keyring.create(A)
    keyring.shred(A)
    with pytest.raises(SubjectKeyUnavailable) as error:
        keyring.get(A)
    rendered = repr(error.value.to_body()) + str(error.value)
    assert key.material.hex() not in rendered
    assert base64.b64encode(key.material).decode() not in rendered


def test_subject_ids_are_required(keyring: SubjectKeyring) -> None:
    for call in (keyring.create, keyring.get, keyring.get_or_create, keyring.shred, keyring.exists):
        with pytest.raises(ValueError, match="subject id"):
            call("")


def test_the_process_keyring_is_shared(aws: None) -> None:
    get_keyring.cache_clear()
    try:
        assert get_keyring() is get_keyring()
    finally:
        get_keyring.cache_clear()
