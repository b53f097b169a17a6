"""What a failed first deploy leaves behind: nothing that blocks the retry.

CloudFormation rolls a failed stack creation back by deleting what it created, except resources
whose `DeletionPolicy` is `Retain`. Three rules make the rollback complete:

* `KEEP` (`RetainExceptOnCreate`): every stateful resource is kept when the stack is deleted or
  the resource leaves the template, and deleted when the creation that made it rolls back; its
  fixed name is then free for the retry.
* `CreationBarrier`: the writers that put data CloudFormation cannot remove into a stateful
  resource (CloudTrail into the Object Lock ledger, the functions' ledger writes, AWS Backup into
  the locked vault, S3's log delivery into the access-log bucket) are created after every other
  resource. A creation that fails anywhere else finds those resources empty, and deletes them.
* `guard_table_deletion`: DynamoDB's deletion protection would refuse the rollback's
  `DeleteTable`, so a table policy denies `DeleteTable` to everyone but CloudFormation's execution
  role instead (the same guard against people, which the rollback can pass).
"""

from __future__ import annotations

from aws_cdk import Aws, CfnResource, CfnWaitConditionHandle, DefaultStackSynthesizer, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct

KEEP = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
BOOTSTRAP_QUALIFIER = "@aws-cdk/core:bootstrapQualifier"


class CreationBarrier(Construct):
    """A no-op resource that every resource but the late writers precedes, and the writers follow.

    `hold(*writers)` registers constructs to create last; `close()` (called once, after the whole
    stack is built) wires the dependencies. Errors: `ValueError` when `close()` runs twice or a
    late writer is referenced by another resource (that would be a dependency cycle).
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.handle = CfnWaitConditionHandle(self, "Handle")
        self._late: list[IConstruct] = []
        self._closed = False

    def hold(self, *writers: IConstruct) -> None:
        self._late.extend(writers)

    def late_resources(self) -> list[CfnResource]:
        return [child for writer in self._late for child in writer.node.find_all() if isinstance(child, CfnResource)]

    def close(self) -> None:
        if self._closed:
            raise ValueError("The creation barrier is closed once")
        self._closed = True
        late = self.late_resources()
        late_paths = {resource.node.path for resource in late}
        for resource in Stack.of(self).node.find_all():
            if not isinstance(resource, CfnResource) or resource is self.handle or resource.node.path in late_paths:
                continue
            self.handle.add_dependency(resource)
        for resource in late:
            resource.add_dependency(self.handle)


def cloudformation_execution_role_arn(scope: IConstruct) -> str:
    """The role CloudFormation deploys (and rolls back) with: the CDK bootstrap's execution role."""
    qualifier = scope.node.try_get_context(BOOTSTRAP_QUALIFIER) or DefaultStackSynthesizer.DEFAULT_QUALIFIER
    return f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/cdk-{qualifier}-cfn-exec-role-{Aws.ACCOUNT_ID}-{Aws.REGION}"


def guard_table_deletion(scope: IConstruct, table_name: str) -> iam.PolicyDocument:
    """A table policy: nobody but CloudFormation's execution role may delete the table."""
    table_arn = f"arn:{Aws.PARTITION}:dynamodb:{Aws.REGION}:{Aws.ACCOUNT_ID}:table/{table_name}"
    return iam.PolicyDocument(
        statements=[
            iam.PolicyStatement(
                sid="OnlyCloudFormationDeletesTheTable",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["dynamodb:DeleteTable"],
                resources=[table_arn],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": cloudformation_execution_role_arn(scope)}},
            )
        ]
    )
