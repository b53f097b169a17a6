"""The stack's tunables, read once from CDK context (`cdk.json`, or `-c key=value`)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import Aws
from constructs import Node

from custody.declared import catalog, datamap, jurisdictions, naming
from custody.declared.notices import NoticeKind

CONTEXT_PREFIX = "custody:"


@dataclass(frozen=True)
class CustodyConfig:
    prefix: str = naming.DEFAULT_PREFIX
    stage_name: str = "live"
    audit_retention_days: int = 365  # Object Lock COMPLIANCE: nobody can shorten it, not even root
    pitr_recovery_days: int = 35
    shredded_pitr_recovery_days: int = 1  # DynamoDB's minimum: the date after which shredded keys are gone
    backup_retention_days: int = 35
    backup_vault_lock_changeable_days: int | None = None  # None: governance mode; a number: compliance after it
    noncurrent_version_days: int = 30
    # Retention (docs/retention.md): customers inactive this long are erased with reason
    # `retention` by a sweep that runs daily and records at most `sweep_batch` erasures (sized from the
    # erasure capacity below, bounded by `retention_batch_max`).
    inactivity_days: int = datamap.INACTIVITY_DAYS
    retention_batch_max: int = 10_000  # an upper bound: the erasure capacity sizes the batch below it
    # Admission at capacity (docs/deploy.md, "Sizing erasures"): erasure executions running at once, how
    # long one typically holds its slot, the share retention may fill and the hours a sweep's batch is
    # sized to finish in (custody.declared.retention.sweep_batch).
    erasure_concurrency: int = 20
    erasure_slot_seconds: int = 600
    retention_slot_percent: int = 75
    retention_window_hours: int = 12
    retention_sweep_hour_utc: int = 2
    # The first month any activity was recorded: the sweep queries no earlier index bucket.
    activity_epoch_month: str = "2026-01"
    # The erasure SLA: an alarm fires when a request is older than this and not complete (the
    # legal limit is one month, GDPR art. 12(3)).
    erasure_sla_days: int = 7
    access_log_retention_days: int = 365
    log_retention_days: int = 365
    waf_log_retention_days: int = 30
    api_rate_limit: int = 50
    api_burst_limit: int = 100
    waf_rate_limit: int = 1000  # requests per client IP per 5 minutes
    # Reserved concurrency per function name, opt-in (docs/deploy.md sizes it). None reserves none:
    # a new account's concurrency quota (as low as 10) cannot spare any, and Lambda refuses a
    # reservation that leaves fewer than 100 units unreserved.
    reserved_concurrency: Mapping[str, int] | None = None
    # API Gateway's CloudWatch role is one setting per account and region; turn this off where
    # another stack already manages it.
    manage_api_gateway_account: bool = True
    # Who is told when an alarm fires: an e-mail address subscribed to the alarm topic. Without one
    # the alarms reach nobody (synthesis warns; `custody preflight` says so too).
    alarm_email: str | None = None
    # Cognito's own e-mail sender allows only a small daily number of messages per pool, too few for
    # customers' self sign-up in production: a verified SES identity (an address) sends instead.
    ses_from_email: str | None = None
    # The law data-subject requests are due under (custody.declared.jurisdictions: gdpr, de, fr, ccpa or
    # default), which also picks how long records under a legal obligation are kept (docs/retention.md).
    jurisdiction: str = jurisdictions.DEFAULT_JURISDICTION
    # An open request due within this many days is "due soon": the RequestsDueSoon alarm fires.
    request_due_warning_days: int = 7
    # The verified SES identity notices to customers are sent from; unset: `ses_from_email`, else a
    # placeholder nobody can verify (naming.DEFAULT_NOTICE_SENDER), whose sends fail and are alarmed.
    notice_sender: str | None = None
    # CloudTrail Lake: an event data store and a channel that receive a copy of every audit event.
    cloud_trail_lake: bool = False
    # The trail records every region's management events (IAM's among them). One deployment per
    # account needs that; a second region's deployment sets this off (docs/deploy.md).
    multi_region_trail: bool = True
    # The web front end (infra.constructs.web): a custom domain for the CloudFront distribution with its
    # ACM certificate (in us-east-1, as CloudFront requires), both or neither; without them the site is
    # served at the distribution's own cloudfront.net name. A WAF web ACL of scope CLOUDFRONT (also in
    # us-east-1, so not created by this regional stack) is attached when its ARN is given.
    web_domain_name: str | None = None
    web_certificate_arn: str | None = None
    web_acl_arn: str | None = None

    def __post_init__(self) -> None:
        check_prefix(self.prefix)
        for days in (self.log_retention_days, self.waf_log_retention_days):
            retention_days(days)  # fails early on a value CloudWatch Logs does not offer
        if not 1 <= self.shredded_pitr_recovery_days <= self.pitr_recovery_days <= 35:
            raise ValueError("PITR windows must satisfy 1 <= shredded <= data <= 35 days")
        if self.backup_retention_days < 1 or self.audit_retention_days < 1:
            raise ValueError("Retention periods are whole days, at least one")
        if not 1 <= self.erasure_sla_days <= 30 or self.inactivity_days < 1 or self.retention_batch_max < 1:
            raise ValueError("The erasure SLA is 1-30 days (the legal month); inactivity and batch are positive")
        if not 1 <= self.erasure_concurrency <= 500 or not 1 <= self.retention_slot_percent <= 100:
            raise ValueError("erasureConcurrency is 1-500 slots; retentionSlotPercent 1-100")
        if not 30 <= self.erasure_slot_seconds <= 86_400 or not 1 <= self.retention_window_hours <= 24:
            raise ValueError("erasureSlotSeconds is 30-86400; retentionWindowHours 1-24")
        if not 0 <= self.retention_sweep_hour_utc <= 23:
            raise ValueError("The retention sweep runs at an hour of the day, 0-23 UTC")
        if self.jurisdiction not in jurisdictions.JURISDICTIONS:
            raise ValueError(f"custody:jurisdiction must be one of {sorted(jurisdictions.JURISDICTIONS)}")
        if not 1 <= self.request_due_warning_days <= 45:
            raise ValueError("custody:requestDueWarningDays is 1-45 days")
        for address in (self.alarm_email, self.ses_from_email, self.notice_sender):
            if address is not None and not EMAIL.fullmatch(address):
                raise ValueError(f"{address!r} is not an e-mail address")
        for function, units in (self.reserved_concurrency or {}).items():
            if function not in {item.name for item in catalog.FUNCTIONS} or not isinstance(units, int) or units < 1:
                raise ValueError(f"reservedConcurrency: {function!r} must be a catalog function with at least 1 unit")

        if (self.web_domain_name is None) != (self.web_certificate_arn is None):
            raise ValueError("custody:webDomainName and custody:webCertificateArn are given together, or neither")
        for arn, service in ((self.web_certificate_arn, "acm"), (self.web_acl_arn, "wafv2")):
            if arn is not None and not re.fullmatch(rf"arn:aws:{service}:us-east-1:\d{{12}}:\S+", arn):
                raise ValueError(f"{arn!r} is not an {service} ARN in us-east-1 (CloudFront takes only those)")

    @classmethod
    def from_context(cls, node: Node) -> CustodyConfig:
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            raw = node.try_get_context(CONTEXT_PREFIX + _camel(name))
            if raw is not None:
                values[name] = _coerce(cls.__dataclass_fields__[name].type, raw)
        return cls(**values)

    @property
    def notice_from(self) -> str:
        """The address notices are sent from: `notice_sender`, else `ses_from_email`, else the placeholder."""
        return self.notice_sender or self.ses_from_email or naming.DEFAULT_NOTICE_SENDER

    def name(self, logical: str) -> str:
        """`<prefix>-<logical>`: naming.py's convention for every resource that is not a bucket."""
        return naming.function_name(self.prefix, logical)

    def regional_name(self, logical: str) -> str:
        """`<prefix>-<logical>-<region>`: for resources whose names are unique per account, not per region
        (IAM roles, CloudWatch dashboards, trails that span regions)."""
        return f"{self.name(logical)}-{Aws.REGION}"

    def bucket_name(self, logical: str, qualifier: str) -> str:
        return naming.bucket_name(self.prefix, logical, qualifier)

    def reserved(self, function: str) -> int | None:
        """The units reserved for one catalog function, or None (it draws on the account's pool)."""
        return (self.reserved_concurrency or {}).get(function)

    def total_reserved(self) -> int:
        return sum((self.reserved_concurrency or {}).values())


# The longest physical names the stack derives from the prefix, against the limits AWS sets on them.
# Region and account are tokens at synthesis: counted at their longest (14 characters is the longest
# region code of the `aws` partition, e.g. ap-southeast-1; an account id is 12 digits).
LONGEST_REGION, ACCOUNT_ID = 14, 12
QUEUES = (naming.PROCESSOR_NOTIFICATIONS, naming.ERASURE_ADMISSIONS)
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PREFIX_PATTERN = re.compile(r"[a-z][a-z0-9-]*[a-z0-9]")


def check_prefix(prefix: str) -> None:
    """Refuse a prefix that makes any physical name invalid.

    Errors: ValueError naming the first name that would be too long, or the character rule (bucket
    names and Cognito domains take lower-case letters, digits and hyphens only).
    """
    if not PREFIX_PATTERN.fullmatch(prefix):
        raise ValueError(f"custody:prefix {prefix!r}: lower-case letters, digits and inner hyphens only")
    for kind, length, limit in longest_names(prefix):
        if length > limit:
            raise ValueError(f"custody:prefix {prefix!r} makes a {kind} name of {length} characters (limit {limit})")


def longest_names(prefix: str) -> list[tuple[str, int, int]]:
    """(kind, the longest name of that kind, AWS's limit) for every kind of name the prefix starts."""
    qualifier = ACCOUNT_ID + 1 + LONGEST_REGION
    buckets = max(len(name) for name in (naming.AUDIT_BUCKET, naming.ACCESS_LOG_BUCKET, *datamap_buckets()))
    functions = max(len(item.name) for item in catalog.FUNCTIONS)
    return [
        ("S3 bucket", len(prefix) + 1 + buckets + 1 + qualifier, 63),
        ("Lambda function", len(prefix) + 1 + functions, 64),
        ("IAM role", len(prefix) + len("-auditor-") + LONGEST_REGION, 64),
        ("EventBridge rule", len(prefix) + max(len("-retention-sweep"), len("-erasure-outcomes")), 64),
        ("Cognito domain prefix", len(prefix) + len("-processors-") + ACCOUNT_ID, 63),
        ("Backup vault", len(prefix) + len("-vault"), 50),
        ("SQS queue", len(prefix) + 1 + max(len(name) for name in QUEUES) + len("-dlq"), 80),
        ("SES template", max(len(naming.notice_template_name(prefix, kind.value)) for kind in NoticeKind), 64),
    ]


def datamap_buckets() -> list[str]:
    return [store.name for store in datamap.bucket_stores()]


# The retention periods CloudWatch Logs accepts (PutRetentionPolicy).
LOG_RETENTION_DAYS = frozenset(
    (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
)


def retention_days(days: int) -> int:
    if days not in LOG_RETENTION_DAYS:
        raise ValueError(f"CloudWatch Logs offers no retention of {days} days")
    return days


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)


def _coerce(annotation: object, raw: object) -> object:
    """Context given with `-c` arrives as a string; cdk.json gives JSON types."""
    if isinstance(raw, str) and any(kind in str(annotation) for kind in ("int", "bool", "Mapping")):
        return json.loads(raw)
    return raw
