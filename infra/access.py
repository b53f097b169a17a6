"""What each function may do, store by store: the least privilege its role is built from.

`custody.declared.catalog` declares the functions and `custody.declared.datamap` the stores; this module is the
one place that says which function touches which store and how. Whatever follows a store
through the data map is derived from it (the erasure steps erase every store, the access
report reads every personal store), so a store added to the data map is reached by both
without an edit here. `tests/infra` checks that every catalog function has an entry and
that every name here is a store or operational table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType

from custody.declared import datamap, naming
from custody.declared.datamap import Classification
from custody.declared.notices import NoticeKind


class TableAccess(StrEnum):
    READ = "read"  # GetItem, BatchGetItem, Query, ConditionCheckItem
    APPEND = "append"  # read + PutItem (conditional writes of new items)
    # read + UpdateItem: conditional updates of existing items, never a new or deleted one (the
    # subject record's activity, versions and disclosures, updated in the writer's transaction)
    UPDATE = "update"
    # read + PutItem + UpdateItem: records new items and updates them conditionally, never deletes (the
    # requests register: a request received, then its notices and answer)
    RECORD = "record"
    READ_WRITE = "read_write"  # read + PutItem, UpdateItem, DeleteItem, BatchWriteItem
    ERASE = "erase"  # Query, DeleteItem, BatchWriteItem: find a customer's items and delete them
    # erase + GetItem + PutItem: the key store, whose key is replaced by a tombstone (PutItem) and
    # whose shredding is verified by reading the key's item (a consistent GetItem) before the
    # certificate says it is gone
    SHRED = "shred"


class BucketAccess(StrEnum):
    READ = "read"  # ListBucket under subjects/, GetObject
    WRITE = "write"  # read + PutObject
    # write + AbortMultipartUpload, ListMultipartUploadParts on subjects/ objects: streams an object as a
    # multipart upload (Create/UploadPart/Complete are authorized by PutObject) and cleans up its own
    # (S3 user guide, "Multipart upload API and permissions")
    WRITE_MULTIPART = "write_multipart"
    # ListBucketVersions under subjects/, DeleteObject, DeleteObjectVersion; AbortMultipartUpload on
    # subjects/ objects and ListBucketMultipartUploads on the bucket: an upload killed mid-way leaves
    # parts no version delete reaches. That listing cannot be confined to subjects/: `s3:prefix` is not
    # a condition key of ListBucketMultipartUploads (Service Authorization Reference), so it names the
    # keys (subject ids) of every upload in progress in the bucket, never their content.
    ERASE = "erase"


class KeyUse(StrEnum):
    """Direct use of the data key on customers' data keys (envelope encryption)."""

    UNWRAP = "unwrap"  # kms:Decrypt
    WRAP = "wrap"  # kms:GenerateDataKey and kms:Decrypt: creates customers' keys


class TokenSeal(StrEnum):
    """Use of the processor-token HMAC key (custody.subprocessors.task_tokens)."""

    SEAL = "seal"  # kms:GenerateMac: the erasure steps bind a task token to its sub-processor
    CHECK = "check"  # kms:VerifyMac: the acknowledgement route checks a returned token


class IdentityUse(StrEnum):
    """Use of the customer user pool (custody.stores.identities)."""

    READ = "read"  # cognito-idp:ListUsers: a customer's user by `sub` (the exporter copies their e-mail address)
    MANAGE = "manage"  # get, disable, sign out and delete a customer named by `sub` (the erasure steps)


class SecretUse(StrEnum):
    """Use of the sub-processors' signing secrets (custody.stores.signing_secrets)."""

    ISSUE = "issue"  # secretsmanager:CreateSecret, PutSecretValue (encrypting with the operations key)
    READ = "read"  # secretsmanager:GetSecretValue (decrypting with the operations key)


@dataclass(frozen=True)
class Access:
    tables: Mapping[str, TableAccess]
    buckets: Mapping[str, BucketAccess] = field(default_factory=dict)
    customer_keys: KeyUse | None = None
    # Tables this function may Scan: bounded operational tables only, never a personal store
    # (the sub-processor registry is listed whole; it holds one item per contract).
    scans: frozenset[str] = frozenset()
    # states:StartExecution on the erasure workflow, through admission: claiming and releasing slots in
    # `erasure_slots` (UPDATE, added by `_with_admission`)
    start_erasure: bool = False
    # sqs:SendMessage on the admission queue (and its operations key): a start that finds no slot waits there
    queues_erasures: bool = False
    # Drain the admission queue (its event source mapping polls with the function's role): ReceiveMessage,
    # DeleteMessage, GetQueueAttributes, ChangeMessageVisibility; and states:DescribeExecution on the
    # erasure workflow's executions, to reconcile slots whose execution ended unseen
    admits_erasures: bool = False
    # lambda:InvokeFunction on exactly the exporter function (custody.declared.naming.EXPORTER), which
    # it invokes with InvocationType=Event (Settings.exporter_function_name)
    starts_exports: bool = False
    complete_callbacks: bool = False  # states:SendTaskSuccess/Failure for sub-processor acknowledgements
    customer_identities: IdentityUse | None = None
    notifies_processors: bool = False  # sqs:SendMessage on the notification queue (and its operations key)
    processor_tokens: TokenSeal | None = None
    # The sub-processors' request-signing secrets (Secrets Manager, `<prefix>/processors/*`): the
    # registry issues them (CreateSecret, PutSecretValue), the relay reads them (GetSecretValue).
    signing_secrets: SecretUse | None = None
    # Consume the processor notification queue (its event source mapping polls with the function's
    # role): ReceiveMessage, DeleteMessage, GetQueueAttributes, and ChangeMessageVisibility for backoff.
    relays_processor_queue: bool = False
    # ses:SendTemplatedEmail from the notice sender's identity with exactly these notices' templates
    # (custody.notices.mailer): the customer is told of their request's receipt, extension, completion.
    sends_notices: frozenset[NoticeKind] = frozenset()
    # An erasure's notice key (custody.notices.addresses): kms:GenerateDataKey and kms:Decrypt on the data
    # key only under a notice's encryption context, and PutItem of key material into the key store only
    # under a notice partition (`notice#<request id>`, dynamodb:LeadingKeys).
    notice_keys: bool = False
    # Review the audit trail as the stack's AuditorRole does (infra.constructs.auditor), read-only: every
    # version under the ledger prefix and the audit key to decrypt them (`Audit.ledger_reads`), and the
    # erasure workflow's executions (DescribeExecution, GetExecutionHistory) — never the trail's log files.
    reviews_audit: bool = False
    # Put audit events into the Object Lock bucket (encrypt-only on the audit key) and claim chain
    # heads in `audit_chains`. Every function does: the workflow its steps, the API functions their
    # sensitive actions and refusals (custody.api.http).
    writes_ledger: bool = True


_PERSONAL_TABLES = tuple(s.name for s in datamap.table_stores() if s.classification is Classification.PERSONAL)
_KEY_TABLES = tuple(s.name for s in datamap.table_stores() if s.classification is Classification.KEY_MATERIAL)
_BUCKETS = tuple(s.name for s in datamap.bucket_stores())

READ, APPEND, UPDATE, READ_WRITE = TableAccess.READ, TableAccess.APPEND, TableAccess.UPDATE, TableAccess.READ_WRITE
RECORD = TableAccess.RECORD
RECEIPT, EXTENSION, COMPLETION = NoticeKind.RECEIPT, NoticeKind.EXTENSION, NoticeKind.COMPLETION
ERASE, SHRED = TableAccess.ERASE, TableAccess.SHRED


def _each(names: tuple[str, ...], level: TableAccess | BucketAccess) -> dict[str, TableAccess | BucketAccess]:
    return dict.fromkeys(names, level)


def _tables(*parts: Mapping[str, TableAccess | BucketAccess]) -> dict[str, TableAccess]:
    merged: dict[str, TableAccess] = {}
    for part in parts:
        merged.update({name: TableAccess(level) for name, level in part.items()})
    return merged


def _buckets(*parts: Mapping[str, TableAccess | BucketAccess]) -> dict[str, BucketAccess]:
    merged: dict[str, BucketAccess] = {}
    for part in parts:
        merged.update({name: BucketAccess(level) for name, level in part.items()})
    return merged


_DECLARED: Mapping[str, Access] = MappingProxyType(
    {
        "collect": Access(
            tables=_tables(
                {
                    "profiles": READ_WRITE,
                    "consents": APPEND,
                    "subjects": READ_WRITE,
                    "requests": READ_WRITE,
                    "idempotency": READ_WRITE,
                    "processors": READ,  # a `sharing:` purpose names a registered sub-processor
                },
                _each(_KEY_TABLES, APPEND),
            ),
            buckets={"documents": BucketAccess.WRITE},
            customer_keys=KeyUse.WRAP,
            start_erasure=True,  # withdrawing a purpose erases what it alone justified
            queues_erasures=True,
            # the erasure a purpose withdrawal or an objection starts is acknowledged (held: the hold told too)
            # a restriction is answered at once: the completion notice (restricted)
            sends_notices=frozenset({RECEIPT, COMPLETION, NoticeKind.LEGAL_HOLD_PLACED}),
        ),
        "subject_access": Access(
            tables=_tables(
                _each(_PERSONAL_TABLES, READ),
                _each(_KEY_TABLES, APPEND),
                # requests: an export or a change request is recorded in the register with its due date
                {"change_requests": READ_WRITE, "subjects": READ_WRITE, "requests": RECORD, "idempotency": READ_WRITE},
            ),
            # exports too: it presigns the download URL of a finished export with its own role
            buckets=_buckets(_each(_BUCKETS, BucketAccess.READ)),
            customer_keys=KeyUse.WRAP,  # a change request may be a customer's first sealed write
            starts_exports=True,  # POST /v1/me/exports invokes the exporter asynchronously
            sends_notices=frozenset({RECEIPT}),
        ),
        "erase": Access(
            tables={"requests": READ_WRITE, "subjects": READ_WRITE, "idempotency": READ_WRITE},
            start_erasure=True,
            queues_erasures=True,
            sends_notices=frozenset({RECEIPT, NoticeKind.LEGAL_HOLD_PLACED}),  # a held withdrawal: the hold told
        ),
        "staff": Access(
            tables=_tables(
                {
                    "staff_access": READ_WRITE,
                    "interactions": READ_WRITE,
                    "change_requests": READ_WRITE,
                    "profiles": READ_WRITE,
                    "consents": READ,
                    # invoices are kept under a legal obligation, sealed with the customer's key for it
                    "invoices": READ_WRITE,
                    # interactions, invoices and change-request decisions touch the subject in their
                    # transaction; a legal hold is placed and lifted on the subject's record
                    "subjects": UPDATE,
                    # a legal hold holds a customer's open erasure requests, and its lift releases them;
                    # the register: an extension, a decided change request answered, their notices
                    "requests": UPDATE,
                    "idempotency": READ_WRITE,
                },
                _each(_KEY_TABLES, APPEND),
            ),
            customer_keys=KeyUse.WRAP,  # an interaction or an invoice may be a customer's first sealed write
            # lifting a legal hold starts the erasures it held, through admission as every start
            start_erasure=True,
            queues_erasures=True,
            # the address an extension's or a decision's notice goes to (ListUsers by `sub`, `email` only)
            customer_identities=IdentityUse.READ,
            sends_notices=frozenset({EXTENSION, COMPLETION}),
            writes_ledger=True,  # every grant, read, refusal, decision, extension and legal hold
        ),
        "processors": Access(
            tables=_tables(
                {
                    "processors": READ_WRITE,
                    "disclosures": READ_WRITE,
                    "consents": READ,
                    "subjects": UPDATE,  # a disclosure records the processor on the subject, in its transaction
                    "requests": READ,
                    "idempotency": READ_WRITE,
                },
                _each(_KEY_TABLES, READ),
            ),
            scans=frozenset({"processors"}),  # GET /v1/staff/processors lists the registry
            customer_keys=KeyUse.UNWRAP,
            complete_callbacks=True,
            processor_tokens=TokenSeal.CHECK,  # a returned task token must be the one sealed to its processor
            signing_secrets=SecretUse.ISSUE,  # an https agreement's secret, handed once to the privacy officer
            writes_ledger=True,  # agreements, disclosures, acknowledgements and refusals
        ),
        # The auditor's API (custody.audit.review): the disposal register and the open requests' records from
        # the requests table (its indexes, read-only), the ledger and the executions' history. No personal store.
        "audit_review": Access(
            tables={"requests": READ},
            reviews_audit=True,
            writes_ledger=True,  # refusals, as every API function
        ),
        "erasure_steps": Access(
            tables=_tables(
                _each(_PERSONAL_TABLES, ERASE),
                _each(_KEY_TABLES, SHRED),
                {"subjects": READ_WRITE, "requests": READ_WRITE, "erasure_ledger": APPEND, "processors": READ},
                # Certify frees the execution's slot: the customer's erasure is done, and waiting on
                # sub-processors (days) must not hold the capacity other erasures need.
                {naming.ERASURE_SLOTS: UPDATE},
                # the customer's idempotency records: counted and deleted with them (stores.idempotency_records)
                {"idempotency": ERASE},
            ),
            buckets=_buckets(_each(_BUCKETS, BucketAccess.ERASE)),
            customer_identities=IdentityUse.MANAGE,
            # Freeze seals the customer's address under a notice key; Certify opens it, shreds it, sends
            sends_notices=frozenset({NoticeKind.ERASURE_COMPLETION, NoticeKind.RETENTION_KEPT}),
            notice_keys=True,
            notifies_processors=True,  # ask_processor sends each deletion request itself
            processor_tokens=TokenSeal.SEAL,  # after sealing its task token to that processor
            writes_ledger=True,
        ),
        # The export job: reads everything the access report reads, streams the archive into the exports
        # bucket (multipart) and records the upload in flight and the job's state on the subject record
        # (conditional UpdateItem only), so that an erasure finds and aborts an upload it interrupts.
        naming.EXPORTER: Access(
            tables=_tables(
                _each(_PERSONAL_TABLES, READ),
                _each(_KEY_TABLES, READ),
                # requests: the access request answered (or failed) in the register, and its notice
                {"subjects": UPDATE, "requests": UPDATE},
            ),
            buckets={"documents": BucketAccess.READ, "exports": BucketAccess.WRITE_MULTIPART},
            customer_keys=KeyUse.UNWRAP,
            # the sign-in e-mail address, held by Cognito, is exported too, and the completion notice goes to it
            customer_identities=IdentityUse.READ,
            sends_notices=frozenset({COMPLETION}),
            writes_ledger=True,  # each export's start, completion or failure
        ),
        # The staff pool's pre-token-generation trigger: maps groups to scopes, touches no store.
        "staff_tokens": Access(tables={}, writes_ledger=False),
        # The retention sweep: reads the subjects' inactivity index, records retention erasure
        # requests (the withdrawal's transaction) and starts the workflow. No personal store.
        "retention": Access(
            tables={"subjects": READ_WRITE, "requests": READ_WRITE},
            start_erasure=True,
            queues_erasures=True,
            writes_ledger=True,  # each request's opening event and one event per sweep
        ),
        # Admission: drains the admission queue, starting what the slots allow; reads each request
        # and records one that never found a slot as failed (a conditional UpdateItem). No personal store.
        naming.ERASURE_ADMISSION: Access(
            tables={"requests": UPDATE},
            start_erasure=True,
            admits_erasures=True,
            writes_ledger=True,  # a request that never started
        ),
        # Outcomes: EventBridge's status-change events of the erasure workflow. Frees the slot and records
        # a failed, timed-out or aborted run on its request (a conditional UpdateItem). No personal store.
        naming.ERASURE_OUTCOMES: Access(
            tables={"requests": UPDATE, "erasure_slots": UPDATE},
            writes_ledger=True,  # one event per unsuccessful ending
        ),
        # The relay: reads the agreement (endpoint) and the signing secret, POSTs, and consumes the
        # queue. No personal store, no ledger (the workflow's own events record the request and its
        # acknowledgement; the relay's logs record each delivery attempt by ids).
        "processor_relay": Access(
            tables={"processors": READ},
            signing_secrets=SecretUse.READ,
            relays_processor_queue=True,
            writes_ledger=False,
        ),
    }
)


def _with_ledger(access: Access) -> Access:
    """A ledger writer reads and claims chain heads: `custody.audit.ledger` needs nothing else of DynamoDB."""
    if not access.writes_ledger:
        return access
    return replace(access, tables={**access.tables, AUDIT_CHAINS: TableAccess.READ_WRITE})


def _with_admission(access: Access) -> Access:
    """A starter claims and releases slots (`custody.stores.erasure_slots`): conditional UpdateItems, reads."""
    if not access.start_erasure:
        return access
    return replace(access, tables={**access.tables, naming.ERASURE_SLOTS: TableAccess.UPDATE})


AUDIT_CHAINS = "audit_chains"
ACCESS: Mapping[str, Access] = MappingProxyType(
    {name: _with_ledger(_with_admission(access)) for name, access in _DECLARED.items()}
)
