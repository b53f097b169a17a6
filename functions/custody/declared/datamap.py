"""The data map: the one declaration of what personal data CRM Custody holds, why, and where.

Everything that touches personal data is driven from here:

* collection checks a category against the purposes the customer granted;
* the access report reads every store listed here;
* the erasure workflow iterates over `erasable_stores()`;
* the CDK stack creates and tags exactly these stores, and a test fails if the stack holds a
  personal-data table or bucket this map does not name, or the other way round.

A store is addressable per customer in O(that customer's data): every table is partitioned
by `subject_id`, and every bucket keeps a customer's objects under their own prefix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class Sensitivity(StrEnum):
    """How sensitive a category's data is: personal, sensitive (financial) or special (GDPR art. 9)."""

    PERSONAL = "personal"
    SENSITIVE = "sensitive"  # financial data: card numbers
    SPECIAL = "special"  # GDPR art. 9: health


class Classification(StrEnum):
    """What a store holds, as tagged on the AWS resource (`custody:classification`)."""

    PERSONAL = "personal"  # personal data, erased item by item
    KEY_MATERIAL = "key-material"  # wrapped per-customer data keys, crypto-shredded
    OPERATIONAL = "operational"  # ids, statuses, counts: no personal data


class Erasure(StrEnum):
    """How a store is erased for one subject."""

    DELETE_PARTITION = "delete_partition"  # Query the subject's partition, BatchWriteItem deletes
    DELETE_ALL_VERSIONS = "delete_all_versions"  # every object version and delete marker
    SHRED = "shred"  # delete the wrapped data key: every copy anywhere becomes unreadable


# A shredded key's tombstone holds the store's key attributes and this one, nothing else; IAM lets
# the erasure steps put exactly those attributes into the key store (infra/constructs/policies.py).
SHREDDED_AT = "shredded_at"


# --- purposes and their legal bases ----------------------------------------------------------
# Purposes a customer can grant. `sharing:<processor_id>` purposes are derived per processor.
CRM_CORE = "crm_core"
MARKETING = "marketing"
PAYMENTS = "payments"
HEALTH_SERVICES = "health_services"
SHARING_PREFIX = "sharing:"

# Processing records are kept because the law requires them (accountability, art. 5(2) and
# 30 GDPR), not because of a purpose the customer grants; they are erased with the customer.
RECORD_KEEPING = "record_keeping"
# The purpose of a staff grant on records kept under a legal obligation (`RetentionObligation`): GDPR
# art. 6(1)(c). Not a purpose a customer grants (not in `PURPOSES`, refused by the consent routes);
# only a privacy officer may ask for it, only on categories that carry an obligation
# (`custody.staff_access.grants`).
LEGAL_OBLIGATION = "legal_obligation"


@dataclass(frozen=True)
class RetentionPeriod:
    """How long a legal obligation keeps a record, and the law that says so.

    `years` whole calendar years, counted from the record's own date, or — `from_year_end` — from the
    end of the calendar year the record's date falls in (as HGB §257(5) and AO §147(4) count them);
    `source` cites the statute. `custody.declared.retention.obligation_ends` turns it into dates.
    """

    years: int
    from_year_end: bool
    source: str


@dataclass(frozen=True)
class RetentionObligation:
    """A legal obligation to keep records, which a full erasure must honour (GDPR art. 17(3)(b)).

    `legal_basis` is what the customer and the certificate are told; `default` the period where the
    deployment's jurisdiction (`Settings.jurisdiction`) declares none of its own; `jurisdictions` the
    periods by jurisdiction code. The periods are defaults the controller must confirm for its own
    situation (its fiscal year, its sector, its member state): they are not legal advice.
    """

    name: str
    description: str
    legal_basis: str
    default: RetentionPeriod
    jurisdictions: Mapping[str, RetentionPeriod] = field(default_factory=dict)

    def period(self, jurisdiction: str) -> RetentionPeriod:
        """The period in force in `jurisdiction`: its own when declared, else `default`."""
        return self.jurisdictions.get(jurisdiction, self.default)

    @property
    def key_version(self) -> str:
        """The `subject_keys` sort key of the customer's key for this obligation's records: `retained#<name>`.

        Records under an obligation are sealed with a key of their own from the moment they are written,
        so a full erasure shreds the customer's main key and keeps this one; the end of the period shreds it.
        """
        return f"{RETAINED_KEY_PREFIX}{self.name}"


RETAINED_KEY_PREFIX = "retained#"
# Every item of a category under an obligation carries, in plain, the last day the obligation keeps it
# (`YYYY-MM-DD`), beside its TTL: what a full erasure reads to say how long it keeps what it keeps.
KEPT_UNTIL = "kept_until"
TAX_RECORDS = "tax_records"
# Sources, read by the authors on the date of this policy version (RETENTION_POLICY_VERSION):
# * Germany: HGB §257(1) no. 4 and (4), AO §147(1) no. 4 and (3), UStG §14b(1) as amended by the
#   Viertes Bürokratieentlastungsgesetz (BGBl. 2024 I no. 323): invoices are "Buchungsbelege", kept
#   8 years from 1 January 2025 (10 before); the period runs from the end of the calendar year in
#   which the record arose (HGB §257(5), AO §147(4)). Books, inventories and annual accounts keep 10.
# * France: Code de commerce art. L123-22: accounting documents and supporting records are kept ten
#   years (counted from the close of the financial year; here from the end of the calendar year).
# * Vietnam: Law on Accounting No. 88/2015/QH13 art. 41 and Decree 174/2016/ND-CP art. 12(5): accounting
#   documents used directly to record the books and prepare the financial statements, invoices among
#   them, are kept at least 10 years (here from the end of the calendar year, the default accounting year).
# The default (`gdpr`: no member state chosen) is the longest of them, 10 years from the year's end.
OBLIGATIONS: Mapping[str, RetentionObligation] = MappingProxyType(
    {
        obligation.name: obligation
        for obligation in (
            RetentionObligation(
                TAX_RECORDS,
                "Invoices and payment records the controller must keep for tax and commercial law.",
                "GDPR art. 6(1)(c) and art. 17(3)(b): kept to comply with a legal obligation (tax and "
                "commercial record keeping)",
                RetentionPeriod(
                    10,
                    True,
                    "a conservative default, the longest of the periods declared here; the controller must "
                    "confirm the period of its own jurisdiction",
                ),
                MappingProxyType(
                    {
                        "de": RetentionPeriod(
                            8, True, "HGB §257(1) no. 4, (4), (5); AO §147(1) no. 4, (3), (4); UStG §14b(1)"
                        ),
                        "fr": RetentionPeriod(10, True, "Code de commerce art. L123-22"),
                        "vn": RetentionPeriod(
                            10, True, "Law on Accounting No. 88/2015/QH13 art. 41; Decree 174/2016/ND-CP art. 12"
                        ),
                    }
                ),
            ),
        )
    }
)


class LegalBasis(StrEnum):
    """The lawful basis of a purpose's processing: one of GDPR art. 6(1)(a)-(f) (`article` names it)."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTERESTS = "legitimate_interests"

    @property
    def article(self) -> str:
        """The provision that makes it a basis: `GDPR art. 6(1)(a)` ... `(f)`."""
        return f"GDPR art. 6(1)({'abcdef'[list(LegalBasis).index(self)]})"


@dataclass(frozen=True)
class Purpose:
    """Why personal data is processed: the declaration the record of processing (GDPR art. 30(1)(b)) lists.

    `legal_basis` is the art. 6(1) basis; `special_condition` the art. 9(2) condition that lifts the ban
    on special categories, for a purpose that processes them (health: explicit consent, art. 9(2)(a)).
    `essential`: the customer relationship cannot be kept without it (the account, the contract itself);
    while the customer's processing is restricted (art. 18) only essential purposes may gain new data or
    new grants. `direct_marketing`: the customer may object to it at any time, whatever its basis, and it
    then stops (art. 21(2)-(3)). `objectable` says whether art. 21 applies at all.
    """

    name: str
    description: str
    legal_basis: LegalBasis
    essential: bool
    special_condition: str | None = None
    direct_marketing: bool = False
    grantable: bool = True  # a customer grants it (POST /v1/me/consents); record keeping is the law's

    @property
    def objectable(self) -> bool:
        """Whether the customer may object to it (GDPR art. 21).

        True for a basis of legitimate interests or public task (art. 21(1)), and for direct marketing
        whatever its basis (art. 21(2)).
        """
        return self.direct_marketing or self.legal_basis in (LegalBasis.LEGITIMATE_INTERESTS, LegalBasis.PUBLIC_TASK)


PURPOSE_DECLARATIONS: tuple[Purpose, ...] = (
    Purpose(
        CRM_CORE,
        "Keep the customer's account and relationship: who they are, how to reach them, their orders and tickets,"
        " their documents.",
        LegalBasis.CONTRACT,
        essential=True,
    ),
    Purpose(
        MARKETING,
        "Send the customer offers on the channels, interests and language they chose.",
        LegalBasis.CONSENT,
        essential=False,
        direct_marketing=True,
    ),
    Purpose(
        PAYMENTS,
        "Keep a payment card on file to charge the customer's orders.",
        LegalBasis.CONTRACT,
        essential=False,
    ),
    Purpose(
        HEALTH_SERVICES,
        "Provide health services, which need the customer's conditions and allergies.",
        LegalBasis.CONSENT,
        essential=False,
        special_condition="explicit consent, GDPR art. 9(2)(a)",
    ),
)
# `sharing:<processor_id>`: one purpose per registered sub-processor, each granted on its own.
SHARING_PURPOSE = Purpose(
    f"{SHARING_PREFIX}<processor_id>",
    "Disclose the categories a sub-processor's agreement covers to that sub-processor (one purpose each).",
    LegalBasis.CONSENT,
    essential=False,
)
RECORD_KEEPING_PURPOSE = Purpose(
    RECORD_KEEPING,
    "Keep the records of processing the controller must be able to show: consents, staff access, disclosures,"
    " change requests and portable copies (accountability, GDPR art. 5(2), 30).",
    LegalBasis.LEGAL_OBLIGATION,
    essential=True,
    grantable=False,
)
PURPOSES: tuple[str, ...] = tuple(item.name for item in PURPOSE_DECLARATIONS)


def purpose(name: str) -> Purpose:
    """The declaration of purpose `name`.

    A declared one, `SHARING_PURPOSE` for any `sharing:<id>`, or `RECORD_KEEPING_PURPOSE`. Raises
    `KeyError` for anything else.
    """
    for item in (*PURPOSE_DECLARATIONS, RECORD_KEEPING_PURPOSE):
        if item.name == name:
            return item
    if name.startswith(SHARING_PREFIX) and len(name) > len(SHARING_PREFIX):
        return SHARING_PURPOSE
    raise KeyError(name)


def is_essential(name: str) -> bool:
    """Whether purpose `name` is essential (`Purpose.essential`); False for a name that is no purpose."""
    try:
        return purpose(name).essential
    except KeyError:
        return False


def essential_purposes() -> tuple[str, ...]:
    """The grantable purposes that stay open while processing is restricted (GDPR art. 18), in order."""
    return tuple(item.name for item in PURPOSE_DECLARATIONS if item.essential)


def objectable_purposes() -> tuple[str, ...]:
    """The grantable purposes a customer may object to (GDPR art. 21), in declaration order."""
    return tuple(item.name for item in PURPOSE_DECLARATIONS if item.objectable)


def collected_for_essential(category_name: str) -> bool:
    """Whether category `category_name` may still be collected while processing is restricted (GDPR art. 18).

    True for a processing record and for a category an essential purpose justifies; raises `KeyError` for
    an unknown category.
    """
    found = category(category_name)
    return found.processing_record or any(is_essential(name) for name in found.purposes)


@dataclass(frozen=True)
class Category:
    """A category of personal data: what it holds, which purposes justify holding it, and where it lives.

    `fields` are the field names an item of the category holds; `purposes` the purposes of which any
    one, granted, justifies it; `store` the name of the `STORES` entry holding it. `retention_days`,
    when set, is how long an item is kept after it is written (a TTL or lifecycle rule disposes of it).
    `obligation` names a `RetentionObligation` that keeps the category past a full erasure (its items
    are sealed with the customer's key for that obligation, and a TTL ends each at its period's end).
    A `processing_record` is kept because the law requires the record (GDPR art. 5(2) and 30), whatever
    the customer granted, and is erased with the customer. A category that `copies_others` (the
    portable export) may hold any other category's data, so every erasure that erases some category
    erases it too.
    """

    name: str
    description: str
    fields: tuple[str, ...]
    purposes: tuple[str, ...]
    sensitivity: Sensitivity
    store: str
    retention_days: int | None = None  # None: kept while consent lasts (erasure on withdrawal)
    verified_fields: tuple[str, ...] = ()  # changed only through a reviewed change request
    processing_record: bool = False
    copies_others: bool = False
    # A legal obligation (`OBLIGATIONS`) to keep the category's records: a full erasure keeps them,
    # sealed with their own key, until the obligation's period ends (docs/retention.md).
    obligation: str | None = None

    def justified_by(self, granted: frozenset[str] | set[str]) -> bool:
        """Whether the category may be held while exactly these purposes are granted.

        True for a processing record, else when any of the category's purposes is in `granted` (purpose
        names).
        """
        return self.processing_record or any(purpose in granted for purpose in self.purposes)


@dataclass(frozen=True)
class Index:
    """A global secondary index. Sparse when its partition key is set only on some items."""

    name: str
    partition_key: str
    sort_key: str | None = None
    projection: tuple[str, ...] = ()  # non-key attributes copied into the index (INCLUDE)


@dataclass(frozen=True)
class TableStore:
    """A DynamoDB table holding one customer's items under partition key `subject_id`."""

    name: str
    description: str
    sort_key: str
    classification: Classification = Classification.PERSONAL
    erasure: Erasure = Erasure.DELETE_PARTITION
    ttl_attribute: str | None = None
    # For a store holding several categories: the attribute naming an item's category.
    category_attribute: str | None = None
    partition_key: str = "subject_id"
    indexes: tuple[Index, ...] = ()
    kind: str = field(default="dynamodb", init=False)


@dataclass(frozen=True)
class BucketStore:
    """An S3 bucket holding one customer's objects under `subjects/<subject_id>/`."""

    name: str
    description: str
    classification: Classification = Classification.PERSONAL
    erasure: Erasure = Erasure.DELETE_ALL_VERSIONS
    expiration_days: int | None = None
    # Objects arrive as multipart uploads: one cut short leaves parts that no version listing shows,
    # so erasure lists and aborts the subject's unfinished uploads here, and Verify looks for them.
    multipart_uploads: bool = False
    kind: str = field(default="s3", init=False)

    @staticmethod
    def prefix(subject_id: str) -> str:
        """The key prefix of one customer's objects: `subjects/<subject_id>/`."""
        return f"subjects/{subject_id}/"


Store = TableStore | BucketStore

INTERACTION_RETENTION_DAYS = 730
# The access log (grants and staff reads) is the customer's record of who saw their data (art. 15)
# and the controller's accountability record (GDPR art. 5(2), 30): kept two years past each read,
# or past a grant's expiry, as long as an interaction it could have shown may still be held, long
# enough to answer a complaint or an audit about a past read, and no longer: it names staff.
ACCESS_LOG_RETENTION_DAYS = 730
# The access log's TTL attribute (epoch seconds): not `expires_at`, which a grant uses for its own expiry.
ACCESS_LOG_TTL_ATTRIBUTE = "retained_until"
PENDING_INDEX = "pending"
EXPORT_RETENTION_DAYS = 7

STORES: tuple[Store, ...] = (
    TableStore(
        "profiles",
        "A customer's profile, one item per category, every field encrypted.",
        "category",
        category_attribute="category",
    ),
    TableStore("consents", "The append-only consent ledger: every grant and withdrawal.", "event_key"),
    TableStore(
        "interactions",
        "Orders and support tickets staff recorded for a customer.",
        "interaction_key",
        ttl_attribute="expires_at",
    ),
    TableStore(
        "change_requests",
        "Requests to change verified fields, awaiting review.",
        "change_request_id",
        # Sparse: `pending` is set only while a request awaits review, so the review queue is
        # a Query of exactly the open requests. Ids and field names only, never values.
        indexes=(Index(PENDING_INDEX, "pending", "created_at", projection=("field",)),),
    ),
    TableStore(
        "staff_access",
        "Need-to-know grants and every staff read of the customer.",
        "access_key",
        ttl_attribute=ACCESS_LOG_TTL_ATTRIBUTE,
    ),
    TableStore(
        "disclosures", "What was disclosed to which sub-processor, and their acknowledgements.", "disclosure_key"
    ),
    TableStore(
        "invoices",
        "Invoices issued to the customer, sealed with their key for tax records; each expires by TTL at the end "
        "of its legal retention period.",
        "invoice_key",
        ttl_attribute="expires_at",
    ),
    TableStore(
        "subject_keys",
        "The customer's wrapped data key. Deleting it crypto-shreds every copy of their data.",
        "key_version",
        classification=Classification.KEY_MATERIAL,
        erasure=Erasure.SHRED,
    ),
    BucketStore("documents", "Documents the customer uploaded, encrypted with their data key."),
    BucketStore(
        "exports",
        "Portable copies of the access report (GDPR art. 20), short-lived.",
        expiration_days=EXPORT_RETENTION_DAYS,
        multipart_uploads=True,
    ),
)

CATEGORIES: tuple[Category, ...] = (
    Category(
        "identity",
        "Who the customer is.",
        ("legal_name", "preferred_name", "birth_date"),
        (CRM_CORE,),
        Sensitivity.PERSONAL,
        "profiles",
        verified_fields=("legal_name", "birth_date"),
    ),
    Category(
        "contact",
        "How to reach the customer (the e-mail is the verified sign-in address, kept by Cognito).",
        ("phone", "address"),
        (CRM_CORE,),
        Sensitivity.PERSONAL,
        "profiles",
    ),
    Category(
        "preferences",
        "Channels, interests and language for marketing.",
        ("channels", "interests", "language"),
        (MARKETING,),
        Sensitivity.PERSONAL,
        "profiles",
    ),
    Category(
        "payment",
        "A payment card, shown back only as brand and last four digits.",
        ("card_number", "expiry_month", "expiry_year", "holder_name"),
        (PAYMENTS,),
        Sensitivity.SENSITIVE,
        "profiles",
    ),
    Category(
        "health",
        "Conditions and allergies, for health services only.",
        ("conditions", "allergies"),
        (HEALTH_SERVICES,),
        Sensitivity.SPECIAL,
        "profiles",
    ),
    Category(
        "interactions",
        "Orders and support tickets.",
        ("kind", "summary", "reference"),
        (CRM_CORE,),
        Sensitivity.PERSONAL,
        "interactions",
        retention_days=INTERACTION_RETENTION_DAYS,
    ),
    Category(
        "documents",
        "Files the customer uploaded.",
        ("file_name", "content_type", "content"),
        (CRM_CORE,),
        Sensitivity.PERSONAL,
        "documents",
    ),
    Category(
        "exports",
        "Portable copies of the customer's own access report.",
        ("report",),
        (),
        Sensitivity.PERSONAL,
        "exports",
        retention_days=EXPORT_RETENTION_DAYS,
        processing_record=True,
        copies_others=True,
    ),
    Category(
        "consents",
        "Every consent given and withdrawn, with policy version and channel.",
        ("purpose", "action", "policy_version", "channel"),
        (),
        Sensitivity.PERSONAL,
        "consents",
        processing_record=True,
    ),
    Category(
        "change_requests",
        "Requested changes to verified fields and their review.",
        ("field", "value", "reason", "status", "decision_reason"),
        (),
        Sensitivity.PERSONAL,
        "change_requests",
        processing_record=True,
    ),
    Category(
        "staff_access",
        "Who in staff was granted or read what, when, for which purpose and ticket.",
        ("staff_id", "purpose", "ticket", "categories"),
        (),
        Sensitivity.PERSONAL,
        "staff_access",
        # Counted from each read, and from a grant's expiry (a grant is kept while usable).
        retention_days=ACCESS_LOG_RETENTION_DAYS,
        processing_record=True,
    ),
    Category(
        "disclosures",
        "Which categories went to which sub-processor, and their deletion acknowledgements.",
        ("processor_id", "categories", "acknowledged_at"),
        (),
        Sensitivity.PERSONAL,
        "disclosures",
        processing_record=True,
    ),
    Category(
        "invoices",
        "Invoices issued for the customer's orders: number, issue date, total amount and currency, a summary of "
        "the lines. Never card data: a card number is not a record tax law asks for.",
        ("invoice_number", "issued_on", "amount", "currency", "line_summary"),
        (CRM_CORE,),
        Sensitivity.PERSONAL,
        "invoices",
        obligation=TAX_RECORDS,
    ),
)


class SubjectRecords(StrEnum):
    """What an erasure does to a subject's records in an operational table (derived records).

    Every record keyed by or naming a subject, in a table that holds no personal data, is one of
    these; `OperationalTable.subject_records` declares which, and Verify checks the first two.
    """

    NONE = "none"  # nothing in the table is keyed by or names a customer
    TOMBSTONE = "tombstone"  # replaced, at ShredKey, by the subject's id, status, request and time
    DELETED = "deleted"  # deleted by a full erasure's ShredKey step, found in O(that subject)
    IDS_KEPT = "ids-kept"  # kept for accountability: opaque ids, statuses, counts, hashes and times only


@dataclass(frozen=True)
class OperationalTable:
    """A table that holds no personal data: ids, statuses, hashes, counts.

    `subject_records` says what a full erasure does to the records it keeps about a subject (the
    derived records: indexes, idempotency, lifecycle), `subject_records_note` how and why.
    """

    name: str
    description: str
    partition_key: str
    sort_key: str | None = None
    ttl_attribute: str | None = None
    indexes: tuple[Index, ...] = ()
    subject_records: SubjectRecords = SubjectRecords.NONE
    subject_records_note: str = ""


# --- retention and disposal ------------------------------------------------------------------
# Customers inactive this long are erased by the retention sweep (reason `retention`); the
# deployed value comes from CDK context `custody:inactivityDays` (Settings.inactivity_days).
INACTIVITY_DAYS = 1095
# The policies under which data is disposed of, by erasure reason, as the disposal register
# cites them. Bump the version when the policy text in docs/retention.md changes.
RETENTION_POLICY_VERSION = "2026-12"  # 2026-12: records kept under a legal obligation; legal holds
DISPOSAL_POLICIES: dict[str, str] = {
    "withdrawal": "consent-withdrawn: the customer withdrew; everything is erased",
    "purpose_withdrawn": "purpose-withdrawn: the categories no remaining purpose justifies are erased",
    "retention": f"inactivity: a customer inactive for {INACTIVITY_DAYS} days (by default) is erased",
    "retention_obligation_ended": "obligation-ended: records kept under a legal obligation after a full erasure"
    " are erased when its period ends",
}
# The sparse index of active customers by activity month, sharded so the month's writes do not
# all land on one index partition: `activity_bucket` = `YYYY-MM#<shard>`, sort key
# `last_active_at`. `subjects.touch` maintains both in the same write; a retention erasure and
# the sweep's clean-up remove them, so an erased or erasing subject leaves the index.
INACTIVITY_INDEX = "inactivity"
ACTIVITY_BUCKET = "activity_bucket"
ACTIVITY_SHARDS = 4
# The sparse index of subjects whose records a legal obligation keeps after their erasure (status
# `retained`): partition `retention_shard` (one of `ACTIVITY_SHARDS`), sort `retention_ends_at` (when
# the last obligation's period ends). The sweep queries each shard for `retention_ends_at <= now`.
RETENTION_END_INDEX = "retention_end"
RETENTION_SHARD = "retention_shard"
RETENTION_ENDS_AT = "retention_ends_at"
# Erasure requests by status, oldest first: the oldest open request (the SLA metric) and the
# disposal register (completed and failed requests, by date) are Queries, never a Scan.
REQUEST_STATUS_INDEX = "by_status"
# Open data-subject requests by kind and due date (the requests register): `open_kind` is set to the
# request's kind while it is open and removed when it completes, so the index holds exactly the open
# requests, and "what falls due by then" is one Query per kind, never a Scan.
REQUEST_DUE_INDEX = "by_due"
REQUEST_OPEN_KIND = "open_kind"
REQUEST_DUE_PROJECTION = ("subject_id", "status", "created_at", "jurisdiction", "extension")
# Sub-processor agreements by the machine identity (token `sub`) each names.
PRINCIPAL_INDEX = "by_principal"
# The idempotency table (custody.platform.idempotency): a customer's records share their partition,
# the opaque `subject_id` (Powertools' static partition value), and each is the sort key Powertools
# hashes from (route, subject, key), so a customer's records are one Query and erased with them.
IDEMPOTENCY_PARTITION_KEY = "subject_id"
IDEMPOTENCY_RECORD_KEY = "id"
# Not `updated_at`: every workflow step moves it, and a projected attribute that moves is an index write.
REQUEST_INDEX_PROJECTION = ("request_id", "subject_id", "reason", "certificate_digest", "certificate")

OPERATIONAL_TABLES: dict[str, OperationalTable] = {
    table.name: table
    for table in (
        OperationalTable(
            "subjects",
            "Lifecycle status of each opaque subject id.",
            "subject_id",
            indexes=(
                Index(INACTIVITY_INDEX, ACTIVITY_BUCKET, "last_active_at"),
                Index(RETENTION_END_INDEX, RETENTION_SHARD, RETENTION_ENDS_AT),
            ),
            subject_records=SubjectRecords.TOMBSTONE,
            subject_records_note=(
                "ShredKey replaces the record by id, status, request and time: granted purposes, versions,"
                " activity times, disclosures, open requests and the inactivity index entry go; uploads in"
                " flight stay until Certify, for Verify to wait on. A subject whose records a legal obligation"
                " keeps is `retained` until its period ends: the record then also holds when it ends, by"
                " obligation, its retention index entry and a legal hold placed on it"
            ),
        ),
        OperationalTable(
            "requests",
            "Data-subject requests of every kind (the register): status, received and due dates, extension, "
            "notices' outcomes; an erasure's steps, counts and certificate digest.",
            "request_id",
            indexes=(
                Index(
                    REQUEST_STATUS_INDEX,
                    "status",
                    "created_at",
                    projection=tuple(name for name in REQUEST_INDEX_PROJECTION if name != "request_id"),
                ),
                Index(REQUEST_DUE_INDEX, REQUEST_OPEN_KIND, "due_at", projection=REQUEST_DUE_PROJECTION),
            ),
            subject_records=SubjectRecords.IDS_KEPT,
            subject_records_note=(
                "each request, its dates and an erasure's certificate: ids, kind, scope, counts and times (the status"
                " route; the register proves each was answered in time)"
            ),
        ),
        OperationalTable(
            "erasure_ledger",
            "Survives erasure: which subject was erased, by which request, in which scope, when (ids only).",
            "subject_id",
            sort_key="request_id",
            subject_records=SubjectRecords.IDS_KEPT,
            subject_records_note="what the restore guard replays over a restored table: ids, scope and times",
        ),
        OperationalTable(
            "processors",
            "Sub-processor registry and agreements (companies, not people).",
            "processor_id",
            # The agreement a machine identity acts for: the ack route resolves the caller by its `sub`.
            indexes=(Index(PRINCIPAL_INDEX, "principal"),),
        ),
        OperationalTable(
            "audit_chains",
            "The head (seq, hash) of each audit chain: appends are claimed here before the event is written.",
            "chain_id",
            subject_records=SubjectRecords.IDS_KEPT,
            subject_records_note="the head of the subject's audit chain: a sequence number and a hash",
        ),
        OperationalTable(
            "erasure_slots",
            "The erasure executions running now (their names and when each slot was claimed): admission at "
            "capacity, one item per pool.",
            "pool_id",
        ),
        OperationalTable(
            "idempotency",
            "Powertools idempotency records, in each customer's own partition so erasure finds and deletes "
            "them: hashed keys and replayable responses without personal data.",
            IDEMPOTENCY_PARTITION_KEY,
            sort_key=IDEMPOTENCY_RECORD_KEY,
            ttl_attribute="expiration",
            subject_records=SubjectRecords.DELETED,
            subject_records_note=(
                "a full erasure's ShredKey deletes the customer's partition and Verify finds it empty;"
                " a replay is refused from the withdrawal on"
            ),
        ),
    )
}


def category(name: str) -> Category:
    """The declared category named `name`; raises `KeyError` when no category has that name."""
    for item in CATEGORIES:
        if item.name == name:
            return item
    raise KeyError(name)


def store(name: str) -> Store:
    """The declared store named `name`; raises `KeyError` when no store has that name."""
    for item in STORES:
        if item.name == name:
            return item
    raise KeyError(name)


def ttl_attribute(store_name: str) -> str:
    """The TTL attribute of the table store named `store_name`.

    Raises `KeyError` for an unknown store and `ValueError` for a bucket or a table without a TTL.
    """
    found = store(store_name)
    if not isinstance(found, TableStore) or found.ttl_attribute is None:
        raise ValueError(f"The data map gives the {store_name} store no TTL attribute.")
    return found.ttl_attribute


def categories_in(store_name: str) -> tuple[Category, ...]:
    """The categories held in the store named `store_name`, in declaration order (empty for an unknown store)."""
    return tuple(item for item in CATEGORIES if item.store == store_name)


def table_stores() -> tuple[TableStore, ...]:
    """The personal-data stores that are DynamoDB tables, in declaration order."""
    return tuple(item for item in STORES if isinstance(item, TableStore))


def bucket_stores() -> tuple[BucketStore, ...]:
    """The personal-data stores that are S3 buckets, in declaration order."""
    return tuple(item for item in STORES if isinstance(item, BucketStore))


def erasable_stores() -> tuple[Store, ...]:
    """Stores erased item by item; the key store is shredded after them, on its own."""
    return tuple(item for item in STORES if item.erasure is not Erasure.SHRED)


def is_purpose(purpose: str) -> bool:
    """Whether `purpose` is one a customer can grant: one of `PURPOSES`, or `sharing:<processor id>`.

    The processor id is only required to be non-empty here; whether such a processor is registered is
    the caller's check.
    """
    return purpose in PURPOSES or (purpose.startswith(SHARING_PREFIX) and len(purpose) > len(SHARING_PREFIX))


def missing_purposes(categories: list[str] | tuple[str, ...], granted: frozenset[str] | set[str]) -> list[str]:
    """Purposes the customer would have to grant before these categories may be stored."""
    missing: set[str] = set()
    for name in categories:
        item = category(name)
        if not item.justified_by(granted):
            missing.update(item.purposes)
    return sorted(missing)


def copies() -> tuple[Category, ...]:
    """The categories that copy others (`Category.copies_others`): erased by every erasure of any category."""
    return tuple(item for item in CATEGORIES if item.copies_others)


def unjustified_categories(granted: frozenset[str] | set[str]) -> tuple[Category, ...]:
    """Categories no granted purpose justifies any more: what a purpose withdrawal erases.

    A category under a legal obligation is never among them: it is kept whatever the customer grants
    (GDPR art. 17(3)(b)), until a full erasure retains it and its period ends.
    """
    return tuple(item for item in CATEGORIES if not item.justified_by(granted) and item.obligation is None)


def obligation(name: str) -> RetentionObligation:
    """The declared obligation named `name`; raises `KeyError` when none is."""
    return OBLIGATIONS[name]


def retained_categories() -> tuple[Category, ...]:
    """The categories a legal obligation keeps past a full erasure (`Category.obligation`), in declaration order."""
    return tuple(item for item in CATEGORIES if item.obligation is not None)


def categories_under(obligation_name: str) -> tuple[Category, ...]:
    """The categories the obligation named `obligation_name` keeps, in declaration order."""
    return tuple(item for item in CATEGORIES if item.obligation == obligation_name)


def retained_stores() -> tuple[Store, ...]:
    """The stores holding a category under a legal obligation, in data-map order."""
    names = {item.store for item in retained_categories()}
    return tuple(item for item in STORES if item.name in names)


def key_version_of(category_name: str) -> str | None:
    """The `subject_keys` version sealing the category: its obligation's (`retained#<name>`), or None (the main key)."""
    found = category(category_name)
    return OBLIGATIONS[found.obligation].key_version if found.obligation else None


def key_version_of_store(store_name: str) -> str | None:
    """The key version sealing the store's items: its categories' obligation key, or None (the main key).

    Raises `ValueError` for a store mixing categories sealed under different keys (the data map must not).
    """
    versions = {key_version_of(item.name) for item in categories_in(store_name)}
    if len(versions) > 1:
        raise ValueError(f"The {store_name} store mixes categories sealed under different keys.")
    return next(iter(versions), None)
