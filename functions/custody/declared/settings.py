"""The one settings model: environment variables → a typed, validated object.

Domain code receives a `Settings`; it never reads `os.environ` itself. Defaults suit the
embedded local stack, so tests and `make demo` need no configuration. In AWS the CDK stack
sets every `CUSTODY_*` variable of a function.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from custody.declared import datamap, jurisdictions, naming

ENV_PREFIX = "CUSTODY_"
USER_POOL_FIELDS = (
    "customer_user_pool_id",
    "customer_client_id",
    "staff_user_pool_id",
    "staff_client_id",
    "processor_user_pool_id",
)


class Settings(BaseModel):
    """A function's configuration: resource names, KMS keys, user pools and the retention and erasure bounds.

    Frozen; built by `from_env` (or by keyword, in tests and the CDK stack). Durations are in the unit
    their name says (`_days`, `_seconds`). Some bounds are the services' own: a DynamoDB
    point-in-time recovery period is 1 to 35 days (`RecoveryPeriodInDays`). Construction raises
    pydantic's `ValidationError` for a value out of its bounds.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    environment: Literal["local", "aws"] = "local"
    region: str = "us-east-1"
    resource_prefix: str = naming.DEFAULT_PREFIX
    bucket_qualifier: str = Field(
        default="123456789012-us-east-1",
        description="Account and region suffix that makes bucket names globally unique.",
    )

    data_key_id: str = Field(
        default=f"alias/{naming.DEFAULT_PREFIX}-data",
        description="KMS key that wraps per-customer data keys (and encrypts the data stores).",
    )
    audit_key_id: str = f"alias/{naming.DEFAULT_PREFIX}-audit"
    processor_token_key_id: str = Field(
        default=f"alias/{naming.DEFAULT_PREFIX}-{naming.PROCESSOR_SEAL_KEY}",
        description="HMAC key (HMAC_256) binding each sub-processor's task token to it (subprocessors.task_tokens).",
    )
    processor_queue_url: str = Field(
        default="", description="The queue the erasure workflow's deletion requests to sub-processors go to."
    )

    admission_queue_url: str = Field(
        default="", description="The queue erasures wait on for a slot (custody.erasure.admission): ids only."
    )

    processor_secrets_key_id: str = Field(
        default=f"alias/{naming.DEFAULT_PREFIX}-{naming.OPERATIONS_KEY}",
        description="KMS key that encrypts the sub-processors' request-signing secrets in Secrets Manager.",
    )
    processor_endpoints_allow_loopback: bool = Field(
        default=False,
        description="Local stack only: a processor endpoint may be https://127.0.0.1, [::1] or localhost.",
    )
    processor_endpoint_ca_file: str = Field(
        default="",
        description="Local stack only: the one CA (PEM file) the relay trusts for processor endpoints; "
        "empty: the system's trust store.",
    )

    customer_user_pool_id: str = ""
    customer_client_id: str = ""
    staff_user_pool_id: str = ""
    staff_client_id: str = ""
    processor_user_pool_id: str = ""
    erasure_state_machine_arn: str = ""
    exporter_function_name: str = Field(
        default="",
        description="The function subject_access invokes asynchronously (InvocationType=Event) to write an export; "
        "its name, derived before it exists (naming.function_name), so no dependency cycle.",
    )
    alarm_topic_arn: str = ""
    audit_lake_channel_arn: str = Field(
        default="", description="CloudTrail Lake channel that receives a copy of every audit event; empty: none."
    )

    key_cache_ttl_seconds: float = Field(default=300.0, gt=0, le=3600)
    key_cache_max_entries: int = Field(default=1024, ge=1, le=100_000)
    audit_retention_days: int = Field(default=1, ge=1)
    key_store_recovery_days: int = Field(
        default=1,
        ge=1,
        le=35,
        description="PITR window of the subject_keys table: a shredded key is unrecoverable this long after.",
    )
    pitr_recovery_days: int = Field(
        default=35, ge=1, le=35, description="PITR window of the data tables: how long an erased row stays restorable."
    )
    backup_retention_days: int = Field(
        default=35, ge=1, description="AWS Backup recovery points are deleted this long after they are taken."
    )
    inactivity_days: int = Field(
        default=datamap.INACTIVITY_DAYS,
        ge=1,
        description="A customer with no activity for this long is erased by the retention sweep (reason retention).",
    )
    retention_batch_max: int = Field(
        default=10_000,
        ge=1,
        le=100_000,
        description="An upper bound on the erasures one retention sweep records; the capacity sizes the batch "
        "below it (custody.declared.retention.sweep_batch).",
    )
    erasure_concurrency: int = Field(
        default=20,
        ge=1,
        le=500,
        description="Erasure executions running at once (slots); the rest wait on the admission queue. Each "
        "running execution invokes one erasure step at a time (EraseStores erases every store) and up to 10 "
        "in the sub-processor Map: size it from the erasure_steps function's concurrency (docs/deploy.md).",
    )
    erasure_slot_seconds: int = Field(
        default=600,
        ge=30,
        le=86_400,
        description="How long an erasure holds its slot, typically (freeze to certificate), in seconds: with "
        "erasure_concurrency it gives the erasures a day can carry (retention.sweep_batch).",
    )
    retention_slot_percent: int = Field(
        default=75,
        ge=1,
        le=100,
        description="The share of the slots retention erasures may fill, in percent: the rest stay free for "
        "customers' own withdrawals.",
    )
    retention_window_hours: int = Field(
        default=12,
        ge=1,
        le=24,
        description="Hours after each daily sweep its erasures are sized to finish in (retention.sweep_batch).",
    )
    activity_epoch_month: str = Field(
        default="2026-01",
        pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$",
        description="The first month any activity was recorded: the sweep queries no earlier activity bucket.",
    )
    export_daily_limit: int = Field(
        default=3, ge=1, le=100, description="Exports a customer may start in any rolling 24 hours."
    )
    export_link_seconds: int = Field(
        default=900,
        ge=60,
        le=3600,
        description="Lifetime in seconds of an export's presigned download URL (S3 presigned GET).",
    )
    jurisdiction: str = Field(
        default=jurisdictions.DEFAULT_JURISDICTION,
        description="The law whose periods data-subject requests are due under: a code of "
        "custody.declared.jurisdictions.JURISDICTIONS (gdpr, de, fr, ccpa, default). Each request keeps the one it "
        "was given. It also picks the periods of records a legal obligation keeps (datamap.OBLIGATIONS: its own "
        "where the obligation declares one, else the default).",
    )
    request_due_warning_days: int = Field(
        default=7,
        ge=1,
        le=45,
        description="An open request due within this many days counts as due soon (RequestsDueSoon, alarmed).",
    )
    notice_sender: str = Field(
        default=naming.DEFAULT_NOTICE_SENDER,
        description="The SES-verified address notices to customers are sent from (SES SendTemplatedEmail Source).",
    )
    erasure_batch_items: int = Field(
        default=2500,
        ge=25,
        le=100_000,
        description="Keys EraseStores reads and deletes at a time (BatchWriteItem takes 25 per call); its loop "
        "is bounded by the invocation's time, not by this, so no value can push an erasure into the history limit.",
    )

    @field_validator("jurisdiction")
    @classmethod
    def _declared_jurisdiction(cls, value: str) -> str:
        if value not in jurisdictions.JURISDICTIONS:
            raise ValueError(f"must be one of {sorted(jurisdictions.JURISDICTIONS)}")
        return value

    @field_validator("notice_sender")
    @classmethod
    def _an_address(cls, value: str) -> str:
        # ASCII only: SES takes an internationalized domain in its Punycode form (SES API, "Source").
        if not value.isascii() or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise ValueError("must be an e-mail address (ASCII)")
        return value

    @model_validator(mode="after")
    def _local_only(self) -> Settings:
        if self.environment != "local" and (self.processor_endpoints_allow_loopback or self.processor_endpoint_ca_file):
            raise ValueError("loopback processor endpoints and a private CA are for the local stack only")
        return self

    def without_user_pools(self) -> Settings:
        """These settings naming no user pool: what a pool's own trigger is told.

        The pool names the trigger, so the trigger cannot name the pool without a dependency cycle.
        """
        return self.model_copy(update=dict.fromkeys(USER_POOL_FIELDS, ""))

    def table(self, logical: str) -> str:
        """The physical name of the table with this logical name (a data-map store or an operational table)."""
        return naming.table_name(self.resource_prefix, logical)

    def bucket(self, logical: str) -> str:
        """The physical, globally unique name of the bucket with this logical name."""
        return naming.bucket_name(self.resource_prefix, logical, self.bucket_qualifier)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from `CUSTODY_<FIELD>` environment variables (the process's own when `environ` is None).

        Unset fields keep their defaults; `region` falls back to `AWS_REGION`, which the Lambda runtime
        sets. Raises pydantic's `ValidationError` when a variable does not parse or breaks a field's
        bounds.
        """
        env = os.environ if environ is None else environ
        values: dict[str, str] = {
            name: env[ENV_PREFIX + name.upper()] for name in cls.model_fields if ENV_PREFIX + name.upper() in env
        }
        if "region" not in values and env.get("AWS_REGION"):
            values["region"] = env["AWS_REGION"]
        return cls.model_validate(values)

    def to_env(self) -> dict[str, str]:
        """The environment variables that reproduce these settings (for CDK and devstack)."""
        return {ENV_PREFIX + name.upper(): str(value) for name, value in self.model_dump().items()}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process, read once. Tests call `get_settings.cache_clear()`."""
    return Settings.from_env()
