"""The one place boto3 clients are made.

`clients.kms()`, `clients.dynamodb()` and the others build their client on first use, never
at import time, and reuse it afterwards (a warm Lambda keeps its connections). Every client
shares one botocore `Config`: adaptive retries and bounded timeouts.

Where calls go is boto3's own business: `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_<SERVICE>`)
points them at the embedded local stack, and moto's `mock_aws` intercepts them in tests.
Both are read when a client is built, so after changing them call `reset_clients()`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import boto3
from botocore.config import Config

from custody.declared.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp.client import CognitoIdentityProviderClient
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_kms.client import KMSClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_sns.client import SNSClient
    from mypy_boto3_stepfunctions.client import SFNClient

_T = TypeVar("_T")

# At DEBUG these loggers write whole request and response bodies: unwrapped data keys from
# KMS, e-mail addresses from Cognito. They are held at INFO whatever the root level is.
WIRE_LOGGERS: tuple[str, ...] = ("botocore.endpoint", "botocore.parsers")

# API functions run under API Gateway's 29-second limit: a stalled call must fail, and be
# retried, well before it. The timeouts bound each socket wait, not a whole transfer.
CLIENT_CONFIG = Config(
    retries={"mode": "adaptive", "total_max_attempts": 4},
    connect_timeout=2,
    read_timeout=5,
    tcp_keepalive=True,
    max_pool_connections=20,
    user_agent_extra="crm-custody",
)


class Clients:
    """A lazily built, thread-safe cache of boto3 clients sharing one session and config.

    `region` defaults to the process settings' region, read on first use.
    """

    def __init__(self, region: str | None = None, config: Config = CLIENT_CONFIG) -> None:
        self._region = region
        self._config = config
        self._lock = threading.RLock()
        self._session: boto3.session.Session | None = None
        self._cache: dict[str, object] = {}

    def _cached(self, name: str, build: Callable[[boto3.session.Session, str], _T]) -> _T:
        found = self._cache.get(name)
        if found is not None:
            return cast("_T", found)
        # boto3 sessions are not thread-safe: build under the lock, then share the client.
        with self._lock:
            found = self._cache.get(name)
            if found is None:
                if self._session is None:
                    _quiet_wire_loggers()
                    self._session = boto3.session.Session()
                found = build(self._session, self._region or get_settings().region)
                self._cache[name] = found
            return cast("_T", found)

    def dynamodb(self) -> DynamoDBClient:
        """The DynamoDB client, built on first use and shared."""
        return self._cached("dynamodb", lambda s, r: s.client("dynamodb", region_name=r, config=self._config))

    def kms(self) -> KMSClient:
        """The KMS client, built on first use and shared."""
        return self._cached("kms", lambda s, r: s.client("kms", region_name=r, config=self._config))

    def s3(self) -> S3Client:
        """The S3 client, built on first use and shared."""
        return self._cached("s3", lambda s, r: s.client("s3", region_name=r, config=self._config))

    def stepfunctions(self) -> SFNClient:
        """The Step Functions client, built on first use and shared."""
        return self._cached("stepfunctions", lambda s, r: s.client("stepfunctions", region_name=r, config=self._config))

    def cognito_idp(self) -> CognitoIdentityProviderClient:
        """The Cognito user pools client, built on first use and shared."""
        return self._cached("cognito_idp", lambda s, r: s.client("cognito-idp", region_name=r, config=self._config))

    def sqs(self) -> Any:
        """SQS (no type stubs are installed for it): the erasure steps' notifications to sub-processors."""
        return self._cached("sqs", lambda s, r: s.client("sqs", region_name=r, config=self._config))

    def ses(self) -> Any:
        """SES, API version 2010-12-01 (no type stubs are installed for it): templated notices to customers."""
        return self._cached("ses", lambda s, r: s.client("ses", region_name=r, config=self._config))

    def sns(self) -> SNSClient:
        """The SNS client, built on first use and shared."""
        return self._cached("sns", lambda s, r: s.client("sns", region_name=r, config=self._config))

    def secretsmanager(self) -> Any:
        """Secrets Manager (no type stubs are installed for it): the sub-processors' signing secrets."""
        return self._cached(
            "secretsmanager", lambda s, r: s.client("secretsmanager", region_name=r, config=self._config)
        )

    def cloudtrail_data(self) -> Any:
        """CloudTrail Lake's ingestion API (no type stubs are installed for it)."""
        return self._cached(
            "cloudtrail_data", lambda s, r: s.client("cloudtrail-data", region_name=r, config=self._config)
        )

    def lambda_(self) -> Any:
        """Lambda (no type stubs are installed for it): how subject_access starts the exporter.

        With `Invoke(FunctionName=Settings.exporter_function_name, InvocationType="Event")`.
        """
        return self._cached("lambda", lambda s, r: s.client("lambda", region_name=r, config=self._config))

    def reset(self) -> None:
        """Forget every client and the session: the next call builds them afresh."""
        with self._lock:
            self._cache.clear()
            self._session = None


def _quiet_wire_loggers() -> None:
    for name in WIRE_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:  # NOTSET (0) would inherit a DEBUG root
            logger.setLevel(logging.INFO)


clients = Clients()


def reset_clients() -> None:
    """Rebuild the process-wide clients on next use (tests, devstack, changed endpoints)."""
    clients.reset()
