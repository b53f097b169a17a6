"""What the record of processing activities (GDPR art. 30(1)) says beyond the data map, declared once.

The data map declares the purposes with their legal bases, the categories of personal data with their
sensitivity, store and retention; the registry holds the sub-processors' agreements. This module
declares the rest of art. 30(1): the controller (a placeholder the deployer fills in), the categories of
data subjects, the categories of recipients, where the data resides, and the technical and
organisational security measures (art. 32(1)) the stack takes. `custody ropa` (ops/commands/ropa.py)
assembles and prints the record; `docs/ropa.md` is its declared-only form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

# The environment variables that name the controller where `custody ropa` runs (the deployer's).
CONTROLLER_VARIABLES = {
    "name": "CUSTODY_CONTROLLER_NAME",
    "contact": "CUSTODY_CONTROLLER_CONTACT",
    "representative": "CUSTODY_CONTROLLER_REPRESENTATIVE",
    "dpo": "CUSTODY_CONTROLLER_DPO",
}


@dataclass(frozen=True)
class Controller:
    """The controller art. 30(1)(a) names.

    Its name and contact details, its representative in the Union (art. 27, where it has one) and its
    data protection officer (art. 37, where it has one).
    """

    name: str
    contact: str
    representative: str
    dpo: str

    def from_environment(self, environ: Mapping[str, str]) -> Controller:
        """These details, each replaced by its `CUSTODY_CONTROLLER_*` variable where that is set and not empty."""
        return replace(
            self, **{field: environ[name] for field, name in CONTROLLER_VARIABLES.items() if environ.get(name)}
        )


# The deployer's own details: set the `CUSTODY_CONTROLLER_*` variables where `custody ropa` runs, or edit here.
CONTROLLER = Controller(
    name="<the deploying organisation: CUSTODY_CONTROLLER_NAME>",
    contact="<its postal address and privacy contact: CUSTODY_CONTROLLER_CONTACT>",
    representative="<its representative in the Union, where art. 27 requires one: CUSTODY_CONTROLLER_REPRESENTATIVE>",
    dpo="<its data protection officer, where art. 37 requires one: CUSTODY_CONTROLLER_DPO>",
)


@dataclass(frozen=True)
class DataSubjects:
    """A category of data subjects (art. 30(1)(c)) and the data-map categories held about them."""

    name: str
    description: str
    categories: tuple[str, ...]  # data-map category names; `()` with `all_categories` for the customers


@dataclass(frozen=True)
class Recipient:
    """A category of recipients (art. 30(1)(d)): who the data is disclosed to, and under what."""

    name: str
    description: str


@dataclass(frozen=True)
class Measure:
    """A technical or organisational security measure (art. 30(1)(g), art. 32(1)) and where it is enforced."""

    name: str
    description: str
    where: str


CUSTOMERS = "customers"
DATA_SUBJECTS: tuple[DataSubjects, ...] = (
    DataSubjects(CUSTOMERS, "The company's customers: every person with an account.", ()),
    DataSubjects(
        "staff",
        "The controller's staff, named by an opaque id in the customer's access log, in interactions they recorded"
        " and in the disclosures they made.",
        ("staff_access", "interactions", "disclosures", "change_requests"),
    ),
)

RECIPIENTS: tuple[Recipient, ...] = (
    Recipient(
        "staff (support, privacy officers)",
        "The controller's own staff, each read under a need-to-know grant for one purpose, ticket and time box; "
        "card and health data only with a second privacy officer's approval; every read in the customer's access log.",
    ),
    Recipient(
        "sub-processors",
        "Processors under a data-processing agreement (art. 28(3)) recorded in the registry, receiving only the"
        " categories their agreement covers and only with the customer's `sharing:<processor_id>` consent.",
    ),
    Recipient(
        "Amazon Web Services",
        "The infrastructure processor hosting every store, in the stack's one region (the AWS Customer Agreement and"
        " its data processing addendum).",
    ),
    Recipient(
        "auditors",
        "The controller's auditors read the audit ledger and erasure certificates: opaque ids, names and counts, no"
        " personal data values.",
    ),
)

RESIDENCY = (
    "Every store, backup and log lives in the one AWS region the stack is deployed to; no bucket is replicated to"
    " another region and backups stay in the stack's own vault, so nothing is transferred out of that region by the"
    " stack itself. Choose a region in the EEA (or one with an adequacy decision, art. 45) to keep the data there."
)
PROCESSOR_TRANSFERS = (
    "A sub-processor's agreement records no transfer terms of its own: each commits that any onward transfer"
    " needs the controller's approval (`onward_transfer_requires_approval`); where a processor is outside the EEA,"
    " record the art. 46 safeguard in its agreement."
)

SECURITY_MEASURES: tuple[Measure, ...] = (
    Measure(
        "Encryption at rest with customer-managed keys",
        "Every table and bucket is encrypted with a KMS customer-managed key (data, audit, operations keys) that"
        " KMS rotates; every field of personal data is also sealed with the customer's own data key (AES-GCM,"
        " envelope encryption).",
        "infra/constructs/keys.py, custody.crypto",
    ),
    Measure(
        "Crypto-shredding",
        "Erasure destroys the customer's wrapped data key, so every copy the stores cannot reach item by item"
        " (backups, point-in-time recovery) becomes unreadable.",
        "custody.erasure.steps.shred_key",
    ),
    Measure(
        "Verified, certified erasure",
        "A Step Functions workflow erases every store, object version, identity and key, verifies nothing is left"
        " and files a certificate in the audit ledger; sub-processors are asked and their acknowledgements recorded.",
        "statemachines/erasure.asl.json",
    ),
    Measure(
        "Need-to-know staff access",
        "Staff read a customer only under their own grant (purpose, ticket, categories, time box); sensitive and"
        " special categories need a second privacy officer's approval; staff sign in with MFA.",
        "custody.staff_access.grants, custody.declared.user_pools",
    ),
    Measure(
        "Least privilege",
        "One IAM role per function, granting only the tables, buckets, keys and calls it needs; checked against"
        " every call in the local stack.",
        "infra/access.py",
    ),
    Measure(
        "Tamper-evident audit ledger",
        "A hash-chained event per workflow step and sensitive action, under S3 Object Lock (compliance mode), with"
        " CloudTrail; ids, names and counts only.",
        "custody.audit.ledger, infra/constructs/audit.py",
    ),
    Measure(
        "TLS only",
        "Buckets refuse requests without TLS (1.2 at least); the API is served over HTTPS only; deletion requests"
        " reach sub-processors over verified TLS, signed.",
        "infra/constructs/data.py, custody.subprocessors.relay",
    ),
    Measure(
        "Pseudonymous identifiers and no personal data in telemetry",
        "Records are keyed by an opaque subject id; logs, metrics, traces, workflow inputs and the audit ledger"
        " carry ids, names and counts, never a value a customer submitted.",
        "custody.audit.grammar, tests/robustness",
    ),
    Measure(
        "Backups under Vault Lock",
        "Daily backups in a vault encrypted with the data key and locked against deletion before their retention.",
        "infra/constructs/backup.py",
    ),
    Measure(
        "Restriction and consent enforced at the write",
        "Consent, erasure and a restriction of processing (art. 18) are conditions of each write's own transaction,"
        " so no write that raced a withdrawal, an erasure or a restriction lands after it.",
        "custody.stores.subjects",
    ),
    Measure(
        "Perimeter",
        "Cognito authorizers per audience, AWS WAF managed rules and per-client rate limiting in front of the API.",
        "infra/constructs/api.py",
    ),
)
