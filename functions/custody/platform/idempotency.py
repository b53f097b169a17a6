"""Requests a client may retry, made safe with Powertools idempotency (DynamoDB persistence).

A client sends `Idempotency-Key: <its own unique token>`; a repeat of the same key by the same
customer on the same route within `EXPIRES_AFTER_SECONDS` gets the first response back and
changes nothing. Each record lies in its customer's own partition (partition key: the opaque
`subject_id`; sort key: Powertools' hash of (route, subject, key)), so erasure finds and deletes a
customer's records in one Query (`custody.stores.idempotency_records`). The stored response must
carry no submitted value: the idempotency table is operational, not a store of personal data.
Without the header a request simply runs.

Powertools writes and reads the records; before it does, the caller's `admit` guard runs, so a
customer whose erasure has begun gets neither a replay nor a run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final, TypeVar, cast

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyKeyError,
    IdempotencyPersistenceLayerError,
)
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import BaseModel

from custody.declared import datamap
from custody.declared.errors import Conflict, InvalidInput
from custody.declared.settings import Settings
from custody.platform.aws import clients
from custody.platform.transient import busy, transient_cause

TABLE: Final = "idempotency"
HEADER: Final = "Idempotency-Key"
EXPIRES_AFTER_SECONDS: Final = 3600
_KEY: Final = re.compile(r"[A-Za-z0-9_-]{8,64}")

_M = TypeVar("_M", bound=BaseModel)


class _CompletionsNeverRecreate:
    """The DynamoDB client Powertools is given, except that completing a record never re-creates it.

    Powertools completes a record with an unconditional `UpdateItem`, which would create it again if
    the customer's erasure deleted their partition while the request ran: a replayable record would
    then outlive the certificate. Here that update requires the record to exist; when it no longer
    does, there is nothing to complete (the request's own write was before the erasure, which erased
    it). Every other call passes through unchanged.
    """

    def __init__(self, client: Any, partition_key: str) -> None:
        self._client = client
        self._partition_key = partition_key

    def update_item(self, **request: Any) -> Any:
        if "ConditionExpression" not in request:
            names = {**request.get("ExpressionAttributeNames", {}), "#record_partition": self._partition_key}
            request = {
                **request,
                "ExpressionAttributeNames": names,
                "ConditionExpression": "attribute_exists(#record_partition)",
            }
        try:
            return self._client.update_item(**request)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def once(
    settings: Settings,
    context: LambdaContext,
    route: str,
    subject_id: str,
    key: str | None,
    model: type[_M],
    work: Callable[[], _M],
    *,
    admit: Callable[[], None],
) -> _M:
    """Run `work` once per (route, subject, key); replay its response for repeats.

    The Lambda context bounds how long a record stays "in progress" if the function dies. `model`
    is the pydantic type of `work`'s result, which the replay is rebuilt as; with `key` None, `work`
    simply runs (it checks the subject itself). `admit` is the caller's guard on the subject (the
    handlers pass `SubjectRegistry(settings).load(subject).ensure_active()`): it runs before the
    record is looked up, so a subject whose erasure has begun gets neither a replay of an earlier
    response nor a run, and what it raises passes through.

    Raises `InvalidInput` for a key that is not 8 to 64 of `[A-Za-z0-9_-]`, `Conflict` while a
    request with the same key is still running, and `ServiceBusy` when the idempotency table stays
    throttled or unreachable past the retries; whatever `admit` or `work` raises passes through
    (Powertools deletes the in-progress record, so a retry runs again).
    """
    if key is None:
        return work()
    if not _KEY.fullmatch(key):
        raise InvalidInput(
            "The Idempotency-Key header must be 8 to 64 letters, digits, '-' or '_'.",
            {"fields": [{"field": HEADER, "reason": "invalid format"}]},
        )
    admit()
    table = datamap.OPERATIONAL_TABLES[TABLE]
    persistence = DynamoDBPersistenceLayer(
        table_name=settings.table(TABLE),
        key_attr=table.partition_key,
        sort_key_attr=table.sort_key,
        static_pk_value=subject_id,
        # The proxy has every method of the client (it forwards what it does not change).
        boto3_client=cast("Any", _CompletionsNeverRecreate(clients.dynamodb(), table.partition_key)),
    )
    config = IdempotencyConfig(expires_after_seconds=EXPIRES_AFTER_SECONDS, raise_on_no_idempotency_key=True)
    config.register_lambda_context(context)

    @idempotent_function(
        data_keyword_argument="request",
        persistence_store=persistence,
        config=config,
        output_serializer=PydanticSerializer(model),
        key_prefix=route,
    )
    def run(request: dict[str, str]) -> _M:
        return work()

    try:
        return cast("_M", run(request={"route": route, "subject": subject_id, "key": key}))
    except IdempotencyAlreadyInProgressError:
        raise Conflict("A request with this Idempotency-Key is still being processed.") from None
    except IdempotencyKeyError:
        raise InvalidInput("The Idempotency-Key header is required here.") from None
    except IdempotencyPersistenceLayerError as error:
        # The idempotency table was throttled or unreachable past the retries: as busy as any
        # other AWS call (a retry with the same key is what the client should do).
        cause = transient_cause(error)
        if cause is None:
            raise
        raise busy(cause) from error
