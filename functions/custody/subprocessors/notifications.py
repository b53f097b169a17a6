"""Deletion requests to sub-processors: one message on the notification queue per processor asked.

The message is `{kind: "erasure", task_token, request_id, subject_id, processor_id, deadline}` —
opaque ids, a deadline and the token the processor returns with its acknowledgement; no value
of the customer's. The queue is the erasure workflow's own (`Settings.processor_queue_url`).
"""

from __future__ import annotations

import json

from custody.declared.settings import Settings
from custody.platform.aws import clients


def send_erasure_request(
    settings: Settings, request_id: str, subject_id: str, processor_id: str, deadline: str, task_token: str
) -> None:
    """Send `processor_id` its deletion request on the notification queue: one SQS message.

    The body is `{kind: "erasure", task_token, request_id, subject_id, processor_id, deadline}`;
    `processor_id` is also a message attribute. SQS errors pass through as botocore's `ClientError`.
    """
    message = {
        "kind": "erasure",
        "task_token": task_token,
        "request_id": request_id,
        "subject_id": subject_id,
        "processor_id": processor_id,
        "deadline": deadline,
    }
    clients.sqs().send_message(
        QueueUrl=settings.processor_queue_url,
        MessageBody=json.dumps(message),
        MessageAttributes={"processor_id": {"DataType": "String", "StringValue": processor_id}},
    )


def postpone(settings: Settings, receipt_handle: str, seconds: int) -> None:
    """Make a received deletion request visible again in `seconds` (the relay's backoff). One SQS call.

    SQS errors pass through as botocore's `ClientError`.
    """
    clients.sqs().change_message_visibility(
        QueueUrl=settings.processor_queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
    )
