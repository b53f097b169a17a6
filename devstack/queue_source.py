"""Lambda's SQS event source mapping, locally: poll a queue, invoke its function, delete what succeeded.

As the mapping does (Lambda developer guide, "Using Lambda with Amazon SQS"): receive up to
`BATCH_SIZE` messages with their attributes, invoke the function synchronously with the SQS event,
and read its partial batch response (`ReportBatchItemFailures`): every message not named in
`batchItemFailures` is deleted, the ones named stay (their visibility as the function left it);
a function error or an unreadable response leaves the whole batch, and so does a throttled invocation
(Lambda's 429: `devstack.concurrency`), whose messages come back after their visibility timeout, as
"if the invocation fails due to throttling" (Lambda operator guide, "Handling errors for an SQS event
source in Lambda"; the mapping's own backing off of its concurrency is not modelled). The polling calls are made
with the function's role (`devstack.iam` enforces them), as the mapping polls with the execution
role. `poll_once` is one round (tests drive it); `start` polls in a thread (the served stack).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.exceptions import ClientError

from custody.declared import catalog
from devstack.iam.enforce import attach, current_stack
from devstack.runtime import Invocation

LOG = logging.getLogger("devstack.sqs")
BATCH_SIZE: Final = catalog.QUEUE_BATCH_SIZE  # a mapping's batch size unless its function declares another

Invoke = Callable[[str, Any], Invocation]


@dataclass(frozen=True)
class Round:
    """One poll: the messages received, those delivered (deleted) and those left for a retry."""

    received: int
    deleted: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    receipts: dict[str, str] = field(default_factory=dict)  # message id -> receipt handle
    throttled: bool = False  # Lambda refused the invocation: the whole batch stays on the queue


class QueueEventSource:
    """The mapping from `queue_url` (ARN `queue_arn`) to the function named `function_name`, `batch_size` at a time."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        function_name: str,
        invoke: Invoke,
        region: str,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        stack = current_stack()
        self.sqs = attach(sqs, stack.function(function_name)) if stack is not None else sqs
        self.queue_url, self.queue_arn, self.function_name = queue_url, queue_arn, function_name
        self.invoke, self.region, self.batch_size = invoke, region, batch_size
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.throttled = Counter[str]()  # throttled invocations per function name

    def poll_once(self, wait_seconds: int = 0) -> Round:
        received = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=wait_seconds,
        ).get("Messages", [])
        if not received:
            return Round(0)
        receipts = {message["MessageId"]: message["ReceiptHandle"] for message in received}
        try:
            outcome = self.invoke(self.function_name, {"Records": [self._record(message) for message in received]})
        except ClientError as refused:
            if refused.response["Error"].get("Code") != "TooManyRequestsException":
                raise
            self.throttled[self.function_name] += 1
            return Round(len(received), (), tuple(sorted(receipts)), receipts, throttled=True)
        failed: set[str] = set(receipts)
        if not outcome.errored:
            try:
                failures = outcome.result().get("batchItemFailures", [])
                failed = {str(item["itemIdentifier"]) for item in failures}
            except (ValueError, AttributeError, KeyError, TypeError):
                failed = set(receipts)
        delivered = [message_id for message_id in receipts if message_id not in failed]
        for message_id in delivered:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipts[message_id])
        return Round(len(received), tuple(delivered), tuple(sorted(failed & set(receipts))), receipts)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = {
            name: {"stringValue": value.get("StringValue"), "dataType": value.get("DataType", "String")}
            for name, value in (message.get("MessageAttributes") or {}).items()
        }
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes") or {}),
            "messageAttributes": attributes,
            "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.region,
        }

    def start(self, interval: float = 0.5) -> QueueEventSource:
        def run() -> None:
            while not self._stop.is_set():
                try:
                    self.poll_once()
                except Exception:
                    LOG.exception("Polling %s failed", self.queue_arn)
                self._stop.wait(interval)

        self._thread = threading.Thread(target=run, name=f"esm-{self.function_name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
