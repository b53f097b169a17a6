"""The synthesized CloudFormation template, with its intrinsics resolved to the local stack's names.

`Resolver(template, Bindings(...)).resolve(value)` turns `Ref`, `Fn::GetAtt`, `Fn::Join`,
`Fn::Sub`, `Fn::Select`, `Fn::Split` and the pseudo parameters into the strings they would be in
this account and region. The physical names come from the template itself (table, bucket, topic,
queue, function and state machine names are `custody.declared.naming`'s, which the local stack provisions
too); what only exists once provisioned is bound from the local stack: KMS key ARNs (by alias)
and user pool ARNs (by pool name). A value that cannot be resolved becomes
`unresolved:<LogicalId>.<attribute>`, which no real ARN matches.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

PARTITION: Final = "aws"
URL_SUFFIX: Final = "amazonaws.com"
_SUB: Final = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass(frozen=True)
class Bindings:
    account: str
    region: str
    key_arns_by_alias: Mapping[str, str] = field(default_factory=dict)  # "alias/crm-custody-data" -> ARN
    user_pool_arns_by_name: Mapping[str, str] = field(default_factory=dict)
    stack_name: str = "CrmCustody"


class Resolver:
    def __init__(self, template: Mapping[str, Any], bindings: Bindings) -> None:
        self.resources: Mapping[str, Mapping[str, Any]] = template.get("Resources", {})
        self.bindings = bindings
        self._aliases = {
            self._logical_of(props.get("TargetKeyId")): props.get("AliasName")
            for props in (
                res.get("Properties", {}) for res in self.resources.values() if res["Type"] == "AWS::KMS::Alias"
            )
        }

    @staticmethod
    def _logical_of(value: Any) -> str | None:
        if isinstance(value, dict):
            if "Ref" in value:
                return str(value["Ref"])
            if "Fn::GetAtt" in value:
                return str(value["Fn::GetAtt"][0])
        return None

    def resolve(self, value: Any) -> Any:
        """Plain data with every intrinsic replaced; lists and dicts are resolved throughout."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref":
                return self._ref(str(argument))
            if name == "Fn::GetAtt":
                logical, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
                return self._attribute(str(logical), str(attribute))
            if name == "Fn::Join":
                separator, parts = argument
                return str(separator).join(str(self.resolve(part)) for part in self.resolve(parts))
            if name == "Fn::Sub":
                return self._sub(argument)
            if name == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(self.resolve(index))]
            if name == "Fn::Split":
                separator, text = argument
                return str(self.resolve(text)).split(str(separator))
        return {key: self.resolve(item) for key, item in value.items()}

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        resolved = {name: self.resolve(item) for name, item in variables.items()}

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in resolved:
                return str(resolved[name])
            if "." in name:
                logical, attribute = name.split(".", 1)
                return str(self._attribute(logical, attribute))
            return str(self._ref(name))

        return _SUB.sub(one, str(text))

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::AccountId": self.bindings.account,
            "AWS::Region": self.bindings.region,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::StackName": self.bindings.stack_name,
        }
        if name in pseudo:
            return pseudo[name]
        kind = self._type(name)
        if kind in ("AWS::SNS::Topic", "AWS::StepFunctions::StateMachine", "AWS::KMS::Key"):
            return self._attribute(name, "Arn" if kind != "AWS::KMS::Key" else "KeyId")
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{self.bindings.region}.{URL_SUFFIX}/{self.bindings.account}/{self._name(name)}"
        return self._name(name)

    def _type(self, logical: str) -> str:
        return str(self.resources.get(logical, {}).get("Type", ""))

    def _props(self, logical: str) -> Mapping[str, Any]:
        props: Mapping[str, Any] = self.resources.get(logical, {}).get("Properties", {})
        return props

    def _name(self, logical: str) -> str:
        """The resource's physical name, as its properties give it (or its logical id)."""
        for prop in (
            "TableName",
            "BucketName",
            "TopicName",
            "QueueName",
            "FunctionName",
            "StateMachineName",
            "RoleName",
            "LogGroupName",
            "UserPoolName",
            "AlarmName",
            "StageName",
            "TrailName",
            "Name",
        ):
            if prop in self._props(logical):
                return str(self.resolve(self._props(logical)[prop]))
        return logical

    def _attribute(self, logical: str, attribute: str) -> Any:
        kind, name = self._type(logical), self._name(logical)
        region, account = self.bindings.region, self.bindings.account
        arns = {
            "AWS::DynamoDB::Table": f"arn:{PARTITION}:dynamodb:{region}:{account}:table/{name}",
            "AWS::S3::Bucket": f"arn:{PARTITION}:s3:::{name}",
            "AWS::SNS::Topic": f"arn:{PARTITION}:sns:{region}:{account}:{name}",
            "AWS::SQS::Queue": f"arn:{PARTITION}:sqs:{region}:{account}:{name}",
            "AWS::Lambda::Function": f"arn:{PARTITION}:lambda:{region}:{account}:function:{name}",
            "AWS::StepFunctions::StateMachine": f"arn:{PARTITION}:states:{region}:{account}:stateMachine:{name}",
            "AWS::IAM::Role": f"arn:{PARTITION}:iam::{account}:role/{name}",
            "AWS::Logs::LogGroup": f"arn:{PARTITION}:logs:{region}:{account}:log-group:{name}:*",
            "AWS::Events::Rule": f"arn:{PARTITION}:events:{region}:{account}:rule/{name}",
            "AWS::CloudWatch::Alarm": f"arn:{PARTITION}:cloudwatch:{region}:{account}:alarm:{name}",
            "AWS::CloudTrail::Trail": f"arn:{PARTITION}:cloudtrail:{region}:{account}:trail/{name}",
        }
        if kind == "AWS::KMS::Key":
            arn = self.bindings.key_arns_by_alias.get(str(self._aliases.get(logical)))
            if arn is None:
                return f"unresolved:{logical}.{attribute}"
            return arn if attribute == "Arn" else arn.rsplit("/", 1)[-1]
        if kind == "AWS::Cognito::UserPool" and attribute == "Arn":
            return self.bindings.user_pool_arns_by_name.get(name, f"unresolved:{logical}.{attribute}")
        if attribute in ("Arn", "TopicArn", "QueueArn") and kind in arns:
            return arns[kind]
        if attribute in ("Name", "TopicName", "QueueName", "StateMachineName"):
            return name
        return f"unresolved:{logical}.{attribute}"
