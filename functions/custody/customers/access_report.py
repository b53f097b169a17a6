"""The access report (GDPR articles 15 and 20): everything held about a customer, decrypted, page by page.

It is driven by the data map: every personal store is read, by the reader its shape needs
(`SHAPED_READERS`: the profile by category, the consent history with what is granted now,
documents with the route that decrypts them) or else by the reader of its kind (every item of
the customer's partition with sealed fields opened; every object under the customer's prefix).
A store added to the data map is in the report without an edit here; it cannot be left out.

No store is returned whole: a Lambda response holds at most 6 MB (`custody.platform.paging`).
The report (`build`) shows each store's first page, at most `REPORT_STORE_BUDGET_BYTES` on the
wire, with `count` (everything the store holds for the customer) and `next_cursor` (None when the
page is the whole store); `page` reads any further page of one store, at most `PAGE_BUDGET_BYTES`.
Every page of every store has the same shape: its extras (the profile's `version`, the granted
purposes) and its items under one name (`Reader.items_field`: `categories` for the profile, a map
by category; `history` for the consents; `items` for every other store), then `count` and
`next_cursor`.

Where a page resumes (the cursor's position) is a sort key or an object key, never personal
data: profiles `category` (a data-map category name), consents `event_key` and interactions
`interaction_key` and disclosures `disclosure_key` (`<time>#<uuid>`), change requests
`change_request_id` (a uuid), staff access `access_key` (`grant#<uuid>` or
`read#<time>#<uuid>`), buckets the object key under the customer's prefix (`documents/<uuid>`,
and the generated names of exports).

Cost, per store: one Query (or one listing) per page, drawing at most one item past the page;
`count` is a `Select=COUNT` Query of the whole partition (DynamoDB bills it as a read of every item
counted, up to 1 MB per call) or a listing of the prefix (1,000 keys per call). The report counts
every store; `page` counts only when asked for a first page (no cursor). At most one KMS call
unwraps the customer's key when it is not cached.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from custody.crypto import sealed
from custody.crypto.cipher import SubjectKey
from custody.crypto.keyring import SubjectKeyring, get_keyring, key_version_for
from custody.customers.profile import StoredProfile, etag
from custody.deadlines.register import customer_view
from custody.declared import clock, datamap, holds
from custody.declared.clock import now_iso
from custody.declared.errors import NotFound
from custody.declared.restriction import GROUNDS, Ground
from custody.declared.settings import Settings
from custody.platform import paging
from custody.stores.partitions import BucketPrefix, TablePartition
from custody.stores.requests import RequestsTable
from custody.stores.subjects import Subject, SubjectRegistry, SubjectStatus

REPORT_VERSION: Final = "2026-12"
# What the report shows of each open request: ids, reason, scope, status and time, no personal data.
OPEN_REQUEST_FIELDS: Final = ("request_id", "reason", "scope", "status", "created_at")


@dataclass
class ReportContext:
    """What the readers of one access report share: the settings, the subject, and the keyring the keys come from."""

    settings: Settings
    subject: Subject
    keyring: SubjectKeyring
    _keys: dict[str, SubjectKey] = field(default_factory=dict, init=False)

    def key(self, store: str) -> SubjectKey:
        """The customer's key that seals `store`'s items, unwrapped at most once per report.

        The main key, or for a store of records kept under a legal obligation the customer's key for it
        (`custody.crypto.keyring.key_version_for`).
        """
        version = key_version_for(store)
        if version not in self._keys:
            self._keys[version] = self.keyring.get(self.subject.subject_id, version)
        return self._keys[version]


# (position, what the customer is shown of one item), in the store's order.
Entries = Iterator[tuple[str, Any]]


@dataclass(frozen=True)
class Reader:
    """How the report reads one store: its entries after a position, and a page of them as shown.

    `entries(context, store, after)` yields (position, shown item) in the store's order, starting past
    `after` (None: from the start); `shape(context, items)` is the page without `count` and
    `next_cursor`, its items under `items_field`.
    """

    entries: Callable[[ReportContext, datamap.Store, str | None], Entries]
    shape: Callable[[ReportContext, list[Any]], dict[str, Any]]
    items_field: str = "items"


def table_entries(context: ReportContext, store: datamap.Store, after: str | None) -> Entries:
    """The items of the customer's partition past `after`, sealed fields opened, keys and bookkeeping dropped."""
    assert isinstance(store, datamap.TableStore)
    for item in TablePartition(context.settings, store).items(context.subject.subject_id, after):
        position = str(item[store.sort_key])
        item.pop(store.partition_key, None)
        fields = item.pop(sealed.FIELDS, None)
        if fields:
            item.update(sealed.unseal(context.key(store.name), store.name, position, fields))
        yield position, item


def bucket_entries(context: ReportContext, store: datamap.Store, after: str | None) -> Entries:
    """The current objects under the customer's prefix past `after`: `key` (relative), `size_bytes`, `stored_at`."""
    assert isinstance(store, datamap.BucketStore)
    for item in BucketPrefix(context.settings, store).objects(context.subject.subject_id, after):
        key = str(item["key"])
        yield key, {"key": key, "size_bytes": item["size_bytes"], "stored_at": clock.iso(item["last_modified"])}


def _profile_entries(context: ReportContext, store: datamap.Store, after: str | None) -> Entries:
    for position, values in table_entries(context, store, after):
        name = values.pop("category")
        values.pop("updated_at", None)
        yield position, (name, StoredProfile(0, {name: values}).view()[name])


def _consent_entries(context: ReportContext, store: datamap.Store, after: str | None) -> Entries:
    for position, event in table_entries(context, store, after):
        event.pop("event_key", None)
        yield position, event


def _document_entries(context: ReportContext, store: datamap.Store, after: str | None) -> Entries:
    """The customer's documents, each with the route that decrypts it (an S3 link would serve ciphertext)."""
    for position, entry in bucket_entries(context, store, after):
        document_id = entry["key"].rsplit("/", 1)[-1]
        yield position, {"document_id": document_id, **entry, "download_url": f"/v1/me/documents/{document_id}"}


def _listed(_: ReportContext, items: list[Any]) -> dict[str, Any]:
    return {"items": items}


def _profile(context: ReportContext, items: list[Any]) -> dict[str, Any]:
    return {"version": etag(context.subject.profile_version), "categories": dict(items)}


def _consents(context: ReportContext, items: list[Any]) -> dict[str, Any]:
    return {"granted": dict(sorted(context.subject.granted.items())), "history": items}


TABLE_READER: Final = Reader(table_entries, _listed)
BUCKET_READER: Final = Reader(bucket_entries, _listed)
SHAPED_READERS: Final[dict[str, Reader]] = {
    "profiles": Reader(_profile_entries, _profile, "categories"),
    "consents": Reader(_consent_entries, _consents, "history"),
    "documents": Reader(_document_entries, _listed),
}


def reader_of(store: datamap.Store) -> Reader:
    """How the report reads `store`: its shaped reader, else the reader of its kind (table or bucket)."""
    if store.name in SHAPED_READERS:
        return SHAPED_READERS[store.name]
    return TABLE_READER if isinstance(store, datamap.TableStore) else BUCKET_READER


def count_of(settings: Settings, store: datamap.Store, subject_id: str) -> int:
    """How many items (a table's) or current objects (a bucket's) `store` holds for the customer."""
    if isinstance(store, datamap.TableStore):
        return TablePartition(settings, store).count(subject_id)
    return BucketPrefix(settings, store).count(subject_id)


def personal_stores() -> tuple[datamap.Store, ...]:
    """The data-map stores classified `personal`: those the access report must show (the key store is not)."""
    return tuple(store for store in datamap.STORES if store.classification is datamap.Classification.PERSONAL)


def legal_hold_of(subject: Subject) -> dict[str, Any] | None:
    """A legal hold on the customer's data as they are shown it: `{reason_code, provision, until}`, or None.

    The declared reason's code and provision and the last day; never the officer's ticket or identity.
    """
    if not subject.hold_active():
        return None
    facts = subject.hold_facts()
    reason = holds.REASONS.get(facts["reason_code"])
    return {
        "reason_code": facts["reason_code"],
        "provision": reason.legal_source if reason else "",
        "until": facts["until"],
    }


def restriction_of(subject: Subject) -> dict[str, Any] | None:
    """The customer's restriction of processing (GDPR art. 18) as they are shown it.

    `{ground, article, since}`, or None when processing is not restricted.
    """
    if subject.restriction is None:
        return None
    ground = subject.restriction.get("ground")
    return {
        "ground": ground,
        "article": Ground(ground).article if ground in GROUNDS else None,
        "since": subject.restriction.get("since"),
    }


def _kept_until(category: datamap.Category) -> str:
    if category.obligation is not None:
        return f"the end of the legal obligation {category.obligation}, also after a withdrawal"
    return "withdrawal of consent" if category.retention_days is None else "retention period"


def _retention() -> dict[str, Any]:
    return {
        category.name: {
            "store": category.store,
            "purposes": list(category.purposes) or [datamap.RECORD_KEEPING],
            "retention_days": category.retention_days,
            "kept_until": _kept_until(category),
            "sensitivity": category.sensitivity.value,
            **(
                {"legal_basis": datamap.obligation(category.obligation).legal_basis}
                if category.obligation is not None
                else {}
            ),
        }
        for category in datamap.CATEGORIES
    }


class AccessReport:
    """The access report (GDPR art. 15, and art. 20's portable copy) under `settings`.

    `keyring` defaults to the process-wide one. AWS errors pass through as botocore's `ClientError`.
    """

    def __init__(self, settings: Settings, keyring: SubjectKeyring | None = None) -> None:
        self.settings = settings
        self.subjects = SubjectRegistry(settings)
        self.requests = RequestsTable(settings)
        self.keyring = keyring or get_keyring()

    def build(self, subject_id: str, email: str | None) -> dict[str, Any]:
        """Everything held about the customer, decrypted, each store's first page, as one JSON-able dict.

        Keys: `report_version`, `generated_at`, `subject_id`, `email` (as given: Cognito keeps it),
        `account` (status and times), `restriction` (`{ground, article, since}` while the customer has
        restricted processing, GDPR art. 18; else None), `stores` (store -> its first page: at most
        `paging.REPORT_STORE_BUDGET_BYTES` of items on the wire, at least one item, with `count` and
        `next_cursor`; see `page`), `retention` (category -> store, purposes, retention and
        sensitivity), `open_requests` (ids, reason, scope, status, time) and `requests` (every open request
        of every kind with when it was received and is due, and whether it was extended:
        `custody.deadlines.register.customer_view`). Once the customer's
        erasure has started nothing is read: the report says the account is `erasing` or `erased`,
        lists no store, nothing granted and no address, and names the erasure request. Raises
        `SubjectKeyUnavailable` when sealed data exists but the key is gone, and `DecryptionFailed`
        when a value does not open.
        """
        subject = self.subjects.load(subject_id)
        if subject.erasure_started:
            return self._erasing(subject)
        context = ReportContext(self.settings, subject, self.keyring)
        stores = {
            store.name: self._page(context, store, None, paging.REPORT_STORE_BUDGET_BYTES, counted=True)
            for store in personal_stores()
        }
        items = sorted(
            self.requests.load_many(subject.open_requests), key=lambda item: (item["created_at"], item["request_id"])
        )
        open_requests = [{name: item.get(name) for name in OPEN_REQUEST_FIELDS} for item in items]
        requests = [customer_view(item, clock.now()) for item in items]
        return {
            "report_version": REPORT_VERSION,
            "generated_at": now_iso(),
            "subject_id": subject_id,
            "email": email,
            "account": {
                "status": subject.status.value,
                "created_at": subject.created_at,
                "last_active_at": subject.last_active_at,
            },
            "restriction": restriction_of(subject),
            "legal_hold": legal_hold_of(subject),
            "stores": stores,
            "retention": _retention(),
            "open_requests": open_requests,
            "requests": requests,
        }

    def page(self, subject_id: str, store_name: str, cursor: str | None) -> dict[str, Any]:
        """One page of one personal store of the customer: at most `paging.PAGE_BUDGET_BYTES` of items on the wire.

        Returns `{"store", <the store's extras>, <its reader's items_field>: items, "count",
        "next_cursor"}`: the items after the cursor's position in the store's order (from the start
        without one), at least one when any remain; `next_cursor` resumes after the last of them and is
        None when the store has no more. `count` is everything the store holds for the customer on a
        first page (no cursor) and None on later ones, so paging through a store does not count it once
        per page. The partition read is always `subject_id`'s. Raises `NotFound` for a store that is not
        a personal store of the data map, or once the customer's erasure has started (nothing is read
        then); `MalformedRequest` (400) for a cursor not issued for this store (`paging.decode`);
        `SubjectKeyUnavailable` and `DecryptionFailed` as `build` does.
        """
        store = next((item for item in personal_stores() if item.name == store_name), None)
        if store is None:
            raise NotFound("No such store.", {"stores": [item.name for item in personal_stores()]})
        after = paging.decode(store.name, cursor)
        subject = self.subjects.load(subject_id)
        if subject.erasure_started:
            raise NotFound("This account is being erased: nothing is shown.", {"reason": "erasing"})
        context = ReportContext(self.settings, subject, self.keyring)
        page = self._page(context, store, after, paging.PAGE_BUDGET_BYTES, counted=after is None)
        return {"store": store.name, **page}

    def _page(
        self, context: ReportContext, store: datamap.Store, after: str | None, budget: int, *, counted: bool
    ) -> dict[str, Any]:
        reader = reader_of(store)
        found = paging.take(store.name, reader.entries(context, store, after), budget)
        count = count_of(self.settings, store, context.subject.subject_id) if counted else None
        return {**reader.shape(context, found.items), "count": count, "next_cursor": found.next_cursor}

    def _erasing(self, subject: Subject) -> dict[str, Any]:
        """The report of a customer whose erasure has started: the status and the request, nothing held."""
        status = SubjectStatus.ERASING if subject.status is SubjectStatus.ACTIVE else subject.status
        request = self.requests.load(subject.erasure_request) if subject.erasure_request else None
        return {
            "report_version": REPORT_VERSION,
            "generated_at": now_iso(),
            "subject_id": subject.subject_id,
            "email": None,
            "account": {"status": status.value, "created_at": None, "last_active_at": None},
            "restriction": None,
            "stores": {},
            "retention": _retention(),
            "open_requests": [{name: request.get(name) for name in OPEN_REQUEST_FIELDS}] if request else [],
            "requests": [customer_view(request, clock.now())] if request else [],
        }
