"""Physical names of the stack's resources, derived in one place.

The CDK stack and the functions' settings both call these, so the names a function is
told and the names the stack creates cannot drift apart.
"""

from __future__ import annotations

import re

DEFAULT_PREFIX = "crm-custody"

# Logical names of the resources that are not data-map stores. Personal-data stores take their
# logical names from `custody.declared.datamap`, functions from `custody.declared.catalog`.
AUDIT_BUCKET = "audit"  # the audit ledger and CloudTrail logs, under Object Lock
ACCESS_LOG_BUCKET = "access_logs"  # S3 server access logs of the data buckets
ERASURE_STATE_MACHINE = "erasure"
ALARM_TOPIC = "alarms"
PROCESSOR_NOTIFICATIONS = "processor_notifications"  # the erasure workflow's deletion requests to sub-processors
PROCESSOR_SEAL_KEY = "processor-tokens"  # the HMAC key that binds each task token to its sub-processor
PROCESSOR_RELAY = "processor_relay"  # the function that delivers the notification queue to each processor's endpoint
EXPORTER = "exporter"  # the function that writes a customer's portable export, invoked asynchronously
ERASURE_ADMISSIONS = "erasure_admissions"  # the queue of erasures waiting for a slot (custody.erasure.admission)
ERASURE_ADMISSION = "erasure_admission"  # the function that drains it, starting what the slots allow
ERASURE_OUTCOMES = "erasure_outcomes"  # the function EventBridge invokes when an erasure execution ends
ERASURE_SLOTS = "erasure_slots"  # the table holding the running erasures' slots (custody.stores.erasure_slots)
OPERATIONS_KEY = "operations"  # encrypts logs, queues, the alarm topic and the signing secrets (no personal data)
# Notices to customers (custody.declared.notices) go from this address until `custody:noticeSender` (or
# `custody:sesFromEmail`) names a verified SES identity. example.com is reserved (RFC 2606): nobody can
# verify it, so an unconfigured deployment's notices fail — recorded on the request and alarmed — rather
# than go out in someone else's name.
DEFAULT_NOTICE_SENDER = "privacy-notices@example.com"
CUSTOMER_POOL = "customers"
STAFF_POOL = "staff"
PROCESSOR_POOL = "processors"

# A table whose key schema changed takes a new physical name: CloudFormation replaces a table to
# change its key schema, and it cannot replace a custom-named resource under the same name (it
# refuses the update until the name changes). Bump a table's generation with its key schema; the
# old table is retained (`UpdateReplacePolicy: Retain`) for the operator to delete
# (docs/deploy.md, "Upgrading").
TABLE_GENERATIONS: dict[str, int] = {
    "idempotency": 2,  # 2: partitioned by the customer's subject_id, so erasure finds their records
}


def table_name(prefix: str, logical: str) -> str:
    """The DynamoDB table name of a logical name: `<prefix>-<logical, '_' as '-'>`, and `-v<n>` from generation 2."""
    generation = TABLE_GENERATIONS.get(logical, 1)
    suffix = f"-v{generation}" if generation > 1 else ""
    return f"{prefix}-{logical.replace('_', '-')}{suffix}"


def bucket_name(prefix: str, logical: str, qualifier: str) -> str:
    """Bucket names are global: the qualifier (account and region) keeps them unique."""
    return f"{prefix}-{logical.replace('_', '-')}-{qualifier}"


def state_machine_name(prefix: str, logical: str) -> str:
    """The Step Functions state machine name of a logical name: `<prefix>-<logical, '_' as '-'>`."""
    return f"{prefix}-{logical.replace('_', '-')}"


_RERUN = re.compile(r"(?P<request>.+)-rerun-(?P<attempt>[1-9][0-9]{0,5})")


def execution_name(request_id: str, attempt: int = 0) -> str:
    """An erasure execution's name: the request id, or `<request id>-rerun-<n>` for re-run n > 0.

    Named by the request, starting it twice starts it once (Step Functions refuses a second
    execution of one name for 90 days: `ExecutionAlreadyExists`).
    """
    return request_id if attempt == 0 else f"{request_id}-rerun-{attempt}"


def parse_execution_name(name: str) -> tuple[str, int]:
    """(request id, attempt) of an erasure execution's name (`execution_name`'s inverse)."""
    rerun = _RERUN.fullmatch(name)
    return (rerun["request"], int(rerun["attempt"])) if rerun else (name, 0)


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN of execution `name` of a state machine: `arn:…:stateMachine:<m>` → `arn:…:execution:<m>:<name>`."""
    prefix, _, machine = state_machine_arn.rpartition(":stateMachine:")
    return f"{prefix}:execution:{machine}:{name}"


def execution_name_of(execution_arn: str) -> str:
    """The name in an execution's ARN (`execution_arn`'s last part)."""
    return execution_arn.rsplit(":", 1)[-1]


def notice_template_name(prefix: str, kind: str) -> str:
    """The SES template of a notice kind: `<prefix>-notice-<kind, '_' as '-'>` (SES: `[a-zA-Z0-9_-]{1,64}`)."""
    return f"{prefix}-notice-{kind.replace('_', '-')}"


def sender_identities(sender: str) -> tuple[str, str]:
    """The SES identities that may authorize sending as `sender`: the address itself, and its domain.

    SES authorizes a send against the verified identity it uses, the address or its domain (SES
    developer guide, "Verified identities"); IAM names both (`identity/<address>`, `identity/<domain>`).
    """
    return sender, sender.rpartition("@")[2]


def function_name(prefix: str, logical: str) -> str:
    """The Lambda function name of a logical name: `<prefix>-<logical, '_' as '-'>`."""
    return f"{prefix}-{logical.replace('_', '-')}"


def queue_name(prefix: str, logical: str) -> str:
    """The SQS queue name of a logical name: `<prefix>-<logical, '_' as '-'>`."""
    return f"{prefix}-{logical.replace('_', '-')}"


def user_pool_name(prefix: str, logical: str) -> str:
    """The Cognito user pool name of a logical name: `<prefix>-<logical, '_' as '-'>`."""
    return f"{prefix}-{logical.replace('_', '-')}"


def resource_server(prefix: str, logical: str) -> str:
    """A user pool resource server's identifier: the prefix of its OAuth scopes (`<identifier>/<scope>`)."""
    return f"{prefix}-{logical.replace('_', '-')}"


def signing_secret_name(prefix: str, processor_id: str) -> str:
    """The Secrets Manager name of a sub-processor's request-signing secret: `<prefix>/processors/<id>/signing`."""
    return f"{prefix}/processors/{processor_id}/signing"


def signing_secrets_pattern(prefix: str) -> str:
    """The secret names (an IAM resource pattern) of every sub-processor's signing secret."""
    return f"{prefix}/processors/*"
