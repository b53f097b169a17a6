"""A work queue with its dead-letter queue, as every queue of the stack is made.

Both encrypted with a customer-managed key, TLS only, kept 14 days (SQS's maximum), tagged
operational; the work queue hands a message to the dead-letter queue after `max_receives`
receives. Created in the caller's scope with the ids `DeadLetters` and `Queue`, so a construct
that used to make them itself keeps its logical ids (named queues cannot be replaced in place).
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from custody.declared.datamap import Classification
from infra.constructs.data import CLASSIFICATION_TAG

RETENTION = Duration.days(14)


def dead_lettered_queue(
    scope: Construct, *, name: str, key: kms.IKey, visibility_seconds: int, max_receives: int
) -> tuple[sqs.Queue, sqs.Queue]:
    """`(queue, dead_letters)`: the queue `name` and `<name>-dlq`, both under `key`."""
    dead_letters = sqs.Queue(
        scope,
        "DeadLetters",
        queue_name=name + "-dlq",
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=RETENTION,
    )
    queue = sqs.Queue(
        scope,
        "Queue",
        queue_name=name,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=RETENTION,
        visibility_timeout=Duration.seconds(visibility_seconds),
        dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=max_receives),
    )
    for made in (queue, dead_letters):
        Tags.of(made).add(CLASSIFICATION_TAG, Classification.OPERATIONAL.value)
    return queue, dead_letters


def let_eventbridge_dead_letter(key: kms.IKey, *, sid: str, rule_names: list[str]) -> None:
    """Let EventBridge use `key` to put the events of these rules it could not deliver on their dead-letter queue.

    Only for the named rules of this account (their ARNs built from the names: no reference cycle
    between the key and the rules). "Granting permissions to the dead-letter queue", EventBridge user guide.
    """
    arns = [f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/{name}" for name in rule_names]
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid=sid,
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=["*"],
            conditions={
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                "ArnEquals": {"aws:SourceArn": arns if len(arns) > 1 else arns[0]},
            },
        )
    )
