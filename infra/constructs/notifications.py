"""The queue through which the erasure workflow asks sub-processors to delete a customer's data.

Each message carries ids, the agreement's deadline and a Step Functions task token — never a
personal value. Encrypted with the operations key, TLS only; messages nobody takes within the
retention end in a dead-letter queue that raises an alarm, never silently expire.
"""

from __future__ import annotations

from aws_cdk import Duration, Tags
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from custody.declared import naming
from custody.declared.datamap import Classification
from infra.config import CustodyConfig
from infra.constructs.data import CLASSIFICATION_TAG

MAX_RECEIVES = 5


class ProcessorNotifications(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: CustodyConfig, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            queue_name=naming.queue_name(config.prefix, naming.PROCESSOR_NOTIFICATIONS) + "-dlq",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=naming.queue_name(config.prefix, naming.PROCESSOR_NOTIFICATIONS),
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letters, max_receive_count=MAX_RECEIVES),
        )
        for queue in (self.queue, self.dead_letters):
            Tags.of(queue).add(CLASSIFICATION_TAG, Classification.OPERATIONAL.value)
