"""What IAM authorizes for one AWS API call: the actions, resources and context keys.

`authorizations(call, stack)` returns `Need`s: the request IAM evaluates and, for
`DeleteObjects`, the index of the object it concerns (S3 answers a refused object as an
`AccessDenied` entry in `Errors`, not by failing the call). What AWS authorizes beyond the
call's own action is included, as the Service Authorization Reference and the service guides
describe it:

* DynamoDB transactions: each item by its own action (`PutItem`, `UpdateItem`, `DeleteItem`,
  `ConditionCheckItem`; `GetItem` for `TransactGetItems`) on its table; batches by
  `BatchWriteItem` / `BatchGetItem` on each table; a `Query` or `Scan` of an index on
  `table/<t>/index/<i>`.
* Encryption at rest with a customer managed key, used by the service on the caller's behalf
  (`kms:ViaService`): DynamoDB `kms:Decrypt` of the table key; S3 `kms:GenerateDataKey` to put
  and `kms:Decrypt` to get; SQS and SNS `kms:GenerateDataKey` and `kms:Decrypt` to send.
* S3 multipart uploads: `CreateMultipartUpload`, `UploadPart`, `CompleteMultipartUpload` as
  `s3:PutObject` (with the data key through S3), `AbortMultipartUpload` and `ListParts` by their own
  actions on the object, `ListMultipartUploads` as `s3:ListBucketMultipartUploads` on the bucket without
  `s3:prefix` (not a condition key of that action).
* Lambda `Invoke` (any invocation type) as `lambda:InvokeFunction` on the function's ARN.
* Step Functions' `SendTask*` have no resource type: their resource is `*`.
* SQS consumers (a function's event source mapping polls with the function's role):
  `ReceiveMessage` needs `kms:Decrypt` of the queue's key through SQS as well.
* Secrets Manager on a secret (its ARN without the random suffix, which a name pattern covers),
  and the secret's key through Secrets Manager: `kms:GenerateDataKey` to create or put a value,
  `kms:Decrypt` to get one (encryption context `SecretARN`).
* SES `SendTemplatedEmail` on both resource types it requires (Service Authorization Reference,
  Amazon SES): the sending identity (the `Source` address, which the local stack verifies; in AWS
  whichever of the address and its domain is verified) and the template.
* A put's `dynamodb:LeadingKeys`: the item's partition key value (the table's `HASH` key in the
  template), with `dynamodb:Attributes`.

An operation not listed here raises `NotModelled`; the enforcer refuses it (fail closed).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from devstack.iam.policy import Request
from devstack.iam.stack import CompiledStack


class NotModelled(Exception):
    """devstack.iam does not know what IAM authorizes for this operation."""


@dataclass(frozen=True)
class Call:
    service: str  # botocore's service name: "dynamodb", "s3", "cognito-idp", ...
    operation: str  # "TransactWriteItems"
    params: Mapping[str, Any]  # the API parameters, as the caller passed them


@dataclass(frozen=True)
class Need:
    request: Request
    part: int | None = None  # DeleteObjects: the index in Delete.Objects


_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}
_SFN_RESOURCE_PARAMS = {"StartExecution": "stateMachineArn", "ListExecutions": "stateMachineArn"}
_SFN_NO_RESOURCE = frozenset({"SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"})


def authorizations(call: Call, stack: CompiledStack) -> list[Need]:
    translate = _SERVICES.get(call.service)
    if translate is None:
        raise NotModelled(f"devstack.iam does not model {call.service} ({call.operation})")
    return list(translate(call, stack))


# --- DynamoDB -----------------------------------------------------------------------------


def _table_arn(stack: CompiledStack, table: str) -> str:
    if table.startswith("arn:"):
        return table
    return f"arn:aws:dynamodb:{stack.bindings.region}:{stack.bindings.account}:table/{table}"


def _dynamodb(call: Call, stack: CompiledStack) -> Iterator[Need]:
    params, operation = call.params, call.operation
    tables: list[str] = []
    if operation in ("TransactWriteItems", "TransactGetItems"):
        for item in params.get("TransactItems", []):
            ((kind, body),) = item.items()
            tables.append(_table_arn(stack, body["TableName"]))
            context = _put_context(kind, body, stack.partition_keys.get(tables[-1]))
            yield Need(Request(f"dynamodb:{_TRANSACT_ACTIONS[kind]}", tables[-1], context))
    elif operation in ("BatchWriteItem", "BatchGetItem"):
        for table in params.get("RequestItems", {}):
            tables.append(_table_arn(stack, table))
            yield Need(Request(f"dynamodb:{operation}", tables[-1]))
    elif "TableName" in params:
        tables.append(_table_arn(stack, params["TableName"]))
        index = params.get("IndexName")
        context = _put_context("Put", params, stack.partition_keys.get(tables[-1])) if operation == "PutItem" else {}
        yield Need(Request(f"dynamodb:{operation}", tables[-1] + (f"/index/{index}" if index else ""), context))
    else:
        raise NotModelled(f"devstack.iam does not model dynamodb.{operation}")
    for table in dict.fromkeys(tables):
        yield from _through_service(stack, table, "dynamodb", ("kms:Decrypt",), _table_context(stack, table))


def _put_context(kind: str, body: Mapping[str, Any], partition_key: str | None) -> dict[str, tuple[str, ...]]:
    """`dynamodb:Attributes` of a put: the top-level attribute names of its item, and `dynamodb:LeadingKeys`:
    its partition key's value (DynamoDB developer guide, "Using IAM policy conditions for fine-grained
    access control"). Other writes carry neither here, so a statement conditioned on them never applies
    to them (it fails closed)."""
    if kind != "Put":
        return {}
    item = body.get("Item", {})
    context = {"dynamodb:attributes": tuple(item)}
    leading = item.get(partition_key, {}) if partition_key else {}
    if isinstance(leading, Mapping) and "S" in leading:
        context["dynamodb:leadingkeys"] = (str(leading["S"]),)
    return context


def _table_context(stack: CompiledStack, table_arn: str) -> dict[str, str]:
    return {
        "kms:encryptioncontext:aws:dynamodb:tablename": table_arn.rsplit("/", 1)[-1],
        "kms:encryptioncontext:aws:dynamodb:subscriberid": stack.bindings.account,
    }


def _through_service(
    stack: CompiledStack, resource: str, service: str, actions: tuple[str, ...], context: dict[str, str]
) -> Iterator[Need]:
    """The KMS calls `service` makes with the caller's authority on the resource's key, if any."""
    key = stack.encryption_keys.get(resource)
    if key is None:
        return
    via = {
        "kms:viaservice": f"{service}.{stack.bindings.region}.amazonaws.com",
        "kms:calleraccount": stack.bindings.account,
        **context,
    }
    for action in actions:
        yield Need(Request(action, key, via))


# --- S3 -----------------------------------------------------------------------------------


def _s3(call: Call, stack: CompiledStack) -> Iterator[Need]:
    params, operation = call.params, call.operation
    bucket = f"arn:aws:s3:::{params['Bucket']}"
    listing = {
        "ListObjectsV2": "s3:ListBucket",
        "ListObjects": "s3:ListBucket",
        "ListObjectVersions": "s3:ListBucketVersions",
    }
    if operation in listing:
        prefix = params.get("Prefix")
        yield Need(Request(listing[operation], bucket, {"s3:prefix": prefix} if prefix is not None else {}))
        return
    if operation == "ListMultipartUploads":
        # s3:prefix is not a condition key of this action (Service Authorization Reference): never in context.
        yield Need(Request("s3:ListBucketMultipartUploads", bucket))
        return
    if operation == "DeleteObjects":
        for index, item in enumerate(params.get("Delete", {}).get("Objects", [])):
            action = "s3:DeleteObjectVersion" if item.get("VersionId") else "s3:DeleteObject"
            yield Need(Request(action, f"{bucket}/{item['Key']}"), part=index)
        return
    versioned = bool(params.get("VersionId"))
    obj = f"{bucket}/{params.get('Key', '')}"
    encryption = {"kms:encryptioncontext:aws:s3:arn": bucket}
    if operation == "PutObject":
        acl = params.get("ACL")
        yield Need(Request("s3:PutObject", obj, {"s3:x-amz-acl": acl} if acl else {}))
        yield from _through_service(stack, bucket, "s3", ("kms:GenerateDataKey",), encryption)
    elif operation in ("GetObject", "HeadObject"):
        yield Need(Request("s3:GetObjectVersion" if versioned else "s3:GetObject", obj))
        yield from _through_service(stack, bucket, "s3", ("kms:Decrypt",), encryption)
    elif operation == "DeleteObject":
        yield Need(Request("s3:DeleteObjectVersion" if versioned else "s3:DeleteObject", obj))
    elif operation in _MULTIPART_WRITES:
        acl = params.get("ACL")
        yield Need(Request("s3:PutObject", obj, {"s3:x-amz-acl": acl} if acl else {}))
        yield from _through_service(stack, bucket, "s3", _MULTIPART_WRITES[operation], encryption)
    elif operation in _MULTIPART_OBJECT_ACTIONS:
        yield Need(Request(_MULTIPART_OBJECT_ACTIONS[operation], obj))
    else:
        raise NotModelled(f"devstack.iam does not model s3.{operation}")


# A multipart upload's writes are authorized as s3:PutObject (S3 user guide, "Multipart upload API and
# permissions"); under SSE-KMS the requester needs kms:GenerateDataKey and kms:Decrypt, S3 decrypting
# the parts to complete the object (S3 API reference, CreateMultipartUpload): here each call checks
# what it uses, creating both.
_MULTIPART_WRITES: dict[str, tuple[str, ...]] = {
    "CreateMultipartUpload": ("kms:GenerateDataKey", "kms:Decrypt"),
    "UploadPart": ("kms:GenerateDataKey",),
    "CompleteMultipartUpload": ("kms:Decrypt",),
}
_MULTIPART_OBJECT_ACTIONS = {
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "ListParts": "s3:ListMultipartUploadParts",
}


# --- KMS, Step Functions, Cognito, SNS, SQS, Lambda, CloudTrail Lake ----------------------


def _kms(call: Call, stack: CompiledStack) -> Iterator[Need]:
    context = {
        f"kms:encryptioncontext:{name}": str(value)
        for name, value in (call.params.get("EncryptionContext") or {}).items()
    }
    context["kms:calleraccount"] = stack.bindings.account
    yield Need(Request(f"kms:{call.operation}", _key_arn(call.params, stack), context))


def _key_arn(params: Mapping[str, Any], stack: CompiledStack) -> str:
    """The key a KMS call uses: its KeyId (id, ARN, alias or alias ARN), or the ciphertext's key."""
    key_id = params.get("KeyId")
    if key_id is None and params.get("CiphertextBlob"):
        from moto.kms.utils import _deserialize_ciphertext_blob  # the local stack's ciphertext format

        key_id = _deserialize_ciphertext_blob(params["CiphertextBlob"]).key_id
    key_id = str(key_id)
    by_alias = stack.bindings.key_arns_by_alias
    if key_id.startswith("alias/"):
        return by_alias.get(key_id, f"unknown-key:{key_id}")
    if ":alias/" in key_id:
        return by_alias.get("alias/" + key_id.split(":alias/", 1)[1], f"unknown-key:{key_id}")
    if key_id.startswith("arn:"):
        return key_id
    found = [arn for arn in by_alias.values() if arn.endswith(f"/{key_id}")]
    return found[0] if found else f"unknown-key:{key_id}"


def _stepfunctions(call: Call, stack: CompiledStack) -> Iterator[Need]:
    if call.operation in _SFN_NO_RESOURCE:
        yield Need(Request(f"states:{call.operation}", "*"))
    elif call.operation in _SFN_RESOURCE_PARAMS:
        yield Need(Request(f"states:{call.operation}", str(call.params[_SFN_RESOURCE_PARAMS[call.operation]])))
    elif "executionArn" in call.params:
        yield Need(Request(f"states:{call.operation}", str(call.params["executionArn"])))
    else:
        raise NotModelled(f"devstack.iam does not model stepfunctions.{call.operation}")


def _cognito(call: Call, stack: CompiledStack) -> Iterator[Need]:
    pool = call.params.get("UserPoolId")
    if pool is None:
        raise NotModelled(f"devstack.iam does not model cognito-idp.{call.operation}")
    arn = f"arn:aws:cognito-idp:{stack.bindings.region}:{stack.bindings.account}:userpool/{pool}"
    yield Need(Request(f"cognito-idp:{call.operation}", arn))


# (service, operation) -> (action, encryption context key of the topic or queue)
_SENDS = {
    ("sns", "Publish"): ("sns:Publish", "aws:sns:topicArn"),
    ("sqs", "SendMessage"): ("sqs:SendMessage", "aws:sqs:arn"),
}


_CONSUMES = {
    "ReceiveMessage": "sqs:ReceiveMessage",
    "DeleteMessage": "sqs:DeleteMessage",
    "DeleteMessageBatch": "sqs:DeleteMessage",
    "ChangeMessageVisibility": "sqs:ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "GetQueueAttributes": "sqs:GetQueueAttributes",
}


def _queue_arn(stack: CompiledStack, url: str) -> str:
    account, name = url.rstrip("/").split("/")[-2:]
    return f"arn:aws:sqs:{stack.bindings.region}:{account}:{name}"


def _send(call: Call, stack: CompiledStack) -> Iterator[Need]:
    """A message to a topic or queue, and the key the service encrypts it with for the sender."""
    if call.service == "sqs" and call.operation in _CONSUMES:
        target = _queue_arn(stack, str(call.params["QueueUrl"]))
        yield Need(Request(_CONSUMES[call.operation], target))
        if call.operation == "ReceiveMessage":
            context = {"kms:encryptioncontext:aws:sqs:arn": target}
            yield from _through_service(stack, target, "sqs", ("kms:Decrypt",), context)
        return
    spec = _SENDS.get((call.service, call.operation))
    if spec is None:
        raise NotModelled(f"devstack.iam does not model {call.service}.{call.operation}")
    action, context_key = spec
    if call.service == "sns":
        target = str(call.params["TopicArn"])
    else:
        account, name = str(call.params["QueueUrl"]).rstrip("/").split("/")[-2:]
        target = f"arn:aws:sqs:{stack.bindings.region}:{account}:{name}"
    yield Need(Request(action, target))
    context = {f"kms:encryptioncontext:{context_key}".lower(): target}
    yield from _through_service(stack, target, call.service, ("kms:GenerateDataKey", "kms:Decrypt"), context)


_SECRET_ACTIONS = {
    "CreateSecret": ("Name", "kms:GenerateDataKey"),
    "PutSecretValue": ("SecretId", "kms:GenerateDataKey"),
    "GetSecretValue": ("SecretId", "kms:Decrypt"),
}


def _secretsmanager(call: Call, stack: CompiledStack) -> Iterator[Need]:
    spec = _SECRET_ACTIONS.get(call.operation)
    if spec is None:
        raise NotModelled(f"devstack.iam does not model secretsmanager.{call.operation}")
    parameter, key_action = spec
    name = str(call.params[parameter])
    arn = (
        name
        if name.startswith("arn:")
        else (f"arn:aws:secretsmanager:{stack.bindings.region}:{stack.bindings.account}:secret:{name}")
    )
    yield Need(Request(f"secretsmanager:{call.operation}", arn))
    key_id = call.params.get("KmsKeyId") or _secret_key(stack, name)
    if key_id:
        via = {
            "kms:viaservice": f"secretsmanager.{stack.bindings.region}.amazonaws.com",
            "kms:calleraccount": stack.bindings.account,
            "kms:encryptioncontext:secretarn": arn,
        }
        yield Need(Request(key_action, _key_arn({"KeyId": key_id}, stack), via))


def _secret_key(stack: CompiledStack, name: str) -> str | None:
    """The key the local stack's secret is encrypted with (moto keeps it), if it exists and names one."""
    from moto.secretsmanager.models import secretsmanager_backends  # the local stack's store

    backend = secretsmanager_backends[stack.bindings.account][stack.bindings.region]
    try:
        secret = backend.secrets[name]
    except KeyError:
        return None
    return getattr(secret, "kms_key_id", None)


def _lambda(call: Call, stack: CompiledStack) -> Iterator[Need]:
    if call.operation != "Invoke":
        raise NotModelled(f"devstack.iam does not model lambda.{call.operation}")
    name = str(call.params["FunctionName"])
    if not name.startswith("arn:"):
        name = f"arn:aws:lambda:{stack.bindings.region}:{stack.bindings.account}:function:{name}"
    qualifier = call.params.get("Qualifier")
    if qualifier and name.count(":") == 6:
        # A qualified invoke is authorized on the qualified ARN, which the unqualified one does not match
        # (Lambda developer guide, "Resource and condition keys for Lambda": use `function:name:*`).
        name = f"{name}:{qualifier}"
    yield Need(Request("lambda:InvokeFunction", name))


def _cloudtrail_data(call: Call, stack: CompiledStack) -> Iterator[Need]:
    yield Need(Request(f"cloudtrail-data:{call.operation}", str(call.params.get("channelArn", "*"))))


def _ses(call: Call, stack: CompiledStack) -> Iterator[Need]:
    if call.operation != "SendTemplatedEmail":
        raise NotModelled(f"devstack.iam does not model ses.{call.operation}")
    base = f"arn:aws:ses:{stack.bindings.region}:{stack.bindings.account}"
    source = parseaddr(str(call.params["Source"]))[1]
    yield Need(Request("ses:SendTemplatedEmail", f"{base}:identity/{source}"))
    yield Need(Request("ses:SendTemplatedEmail", f"{base}:template/{call.params['Template']}"))


_SERVICES = {
    "dynamodb": _dynamodb,
    "s3": _s3,
    "kms": _kms,
    "stepfunctions": _stepfunctions,
    "cognito-idp": _cognito,
    "sns": _send,
    "sqs": _send,
    "lambda": _lambda,
    "cloudtrail-data": _cloudtrail_data,
    "secretsmanager": _secretsmanager,
    "ses": _ses,
}
