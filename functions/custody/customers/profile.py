"""A customer's profile: one encrypted item per category in the `profiles` store.

Writes are all-or-nothing: consent, completeness, verified fields and the version are checked
first, then every category item and the subject's new version go into one transaction. A
refused request writes nothing, not even the categories that were allowed in it.

While the customer's processing is restricted (GDPR art. 18) a write that would store new or changed
values of a category no essential purpose justifies (`datamap.collected_for_essential`) is refused
(`ProcessingRestricted`), and such a write requires no restriction in its own transaction. Correcting
essential data (art. 16, and 18(1)(a)'s very reason) and removing any category still go through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from custody.crypto import cipher, sealed
from custody.crypto.keyring import SubjectKeyring, get_keyring
from custody.customers.models import CATEGORY_MODELS, Profile, Strict
from custody.customers.validation import card_brand
from custody.declared import datamap
from custody.declared.clock import now_iso
from custody.declared.errors import Conflict, ConsentRequired, InvalidInput, PreconditionFailed, field_errors
from custody.declared.settings import Settings
from custody.stores import dynamo
from custody.stores.profiles import TABLE, ProfilesTable
from custody.stores.subjects import Subject, SubjectRegistry

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

STORE = TABLE
IDENTITY = "identity"
_CARD_DERIVED = ("card_brand", "card_last4")


def etag(version: int) -> str:
    """The profile's entity tag for a version: `"v<version>"` (RFC 9110 strong validator syntax)."""
    return f'"v{version}"'


@dataclass(frozen=True)
class StoredProfile:
    """A customer's profile as stored: its version and its categories, decrypted (category -> field -> value).

    The stored categories include the full card number and the derived `card_brand` and `card_last4`;
    `view` is what the customer may be shown.
    """

    version: int
    categories: dict[str, dict[str, Any]]  # decrypted, as stored (the full card number included)

    @property
    def etag(self) -> str:
        """The `ETag` of this version (`If-Match` must name it to change the profile)."""
        return etag(self.version)

    def view(self) -> dict[str, dict[str, Any]]:
        """What the customer is shown: the card only as brand and last four digits."""
        shown = {name: dict(values) for name, values in self.categories.items()}
        if "payment" in shown:
            payment = shown["payment"]
            payment.pop("card_number", None)
            payment["card"] = {"brand": payment.pop("card_brand", None), "last4": payment.pop("card_last4", None)}
        return shown


class ProfileService:
    """Reads and writes customers' profiles under `settings`, sealing each category with the customer's key.

    `keyring` defaults to the process-wide one. DynamoDB and KMS errors pass through as botocore's
    `ClientError`.
    """

    def __init__(self, settings: Settings, keyring: SubjectKeyring | None = None) -> None:
        self.profiles = ProfilesTable(settings)
        self.subjects = SubjectRegistry(settings)
        self.keyring = keyring or get_keyring()

    def read(self, subject: Subject) -> StoredProfile:
        """The subject's profile, decrypted; empty (at the subject's version) when nothing is stored.

        Raises `SubjectKeyUnavailable` when items exist but the key is gone, and `DecryptionFailed` when
        an item does not open under it.
        """
        items = self.profiles.items(subject.subject_id)
        if not items:
            return StoredProfile(subject.profile_version, {})
        key = self.keyring.get(subject.subject_id)
        categories = {
            item["category"]: sealed.unseal(key, STORE, item["category"], item[sealed.FIELDS]) for item in items
        }
        return StoredProfile(subject.profile_version, categories)

    def put(self, subject_id: str, profile: Profile, if_match: str | None) -> StoredProfile:
        """Create or replace the whole profile; categories left out are removed."""
        sent = {name: _plain(model) for name, model in profile.categories().items()}
        return self._write(subject_id, sent, if_match, replace=True)

    def patch(self, subject_id: str, changes: Profile, if_match: str | None) -> StoredProfile:
        """JSON merge patch: fields sent replace stored ones, `null` removes a field."""
        sent = {name: model.model_dump(mode="json", exclude_unset=True) for name, model in changes.categories().items()}
        return self._write(subject_id, sent, if_match, replace=False)

    def _write(
        self, subject_id: str, sent: dict[str, dict[str, Any]], if_match: str | None, *, replace: bool
    ) -> StoredProfile:
        """Without `If-Match`, a write that lost a race is re-applied to the new state; with it, 412."""
        return self.subjects.guarded(
            subject_id,
            lambda subject: self._attempt(subject, sent, if_match, replace=replace),
            None if if_match is None else lambda: PreconditionFailed("The profile changed meanwhile."),
        )

    def _attempt(
        self, subject: Subject, sent: dict[str, dict[str, Any]], if_match: str | None, *, replace: bool
    ) -> StoredProfile:
        subject.ensure_active()
        if if_match is not None and if_match.strip() not in ("*", etag(subject.profile_version)):
            raise PreconditionFailed(
                "The profile changed since you read it.", {"current_etag": etag(subject.profile_version)}
            )
        missing = datamap.missing_purposes(list(sent), subject.purposes)
        if missing:
            raise ConsentRequired(missing)
        current = self.read(subject)
        merged = {
            name: values if replace else _merge(current.categories.get(name, {}), values)
            for name, values in sent.items()
        }
        stored_identity = current.categories.get("identity", {})
        _check_verified_fields(stored_identity, merged.get("identity", {} if replace else stored_identity))
        categories = {name: _complete(name, values) for name, values in merged.items()}
        removed = [name for name in current.categories if name not in categories] if replace else []
        if not categories and not removed:
            return current  # nothing to store or remove: no write, and the version (the ETag) stays
        collected = [
            name
            for name, values in categories.items()
            if values != current.categories.get(name) and not datamap.collected_for_essential(name)
        ]
        if collected:
            subject.ensure_unrestricted([purpose for name in collected for purpose in datamap.category(name).purposes])

        pending = self.keyring.for_write(subject.subject_id)
        at = now_iso()
        items: list[TransactWriteItemTypeDef] = [
            self._put_item(pending.key, subject.subject_id, name, values, at) for name, values in categories.items()
        ]
        items += [self.profiles.delete(subject.subject_id, name) for name in removed]
        items.append(self.subjects.touch(subject, bump_profile=True, unrestricted=bool(collected)))
        if pending.put is not None:
            items.append(pending.put)
        dynamo.transact(items)
        self.keyring.committed(pending)
        stored = {name: values for name, values in current.categories.items() if name not in removed}
        stored.update(categories)
        return StoredProfile(subject.profile_version + 1, stored)

    def _put_item(
        self, key: cipher.SubjectKey, subject_id: str, category: str, values: dict[str, Any], at: str
    ) -> TransactWriteItemTypeDef:
        return self.profiles.put(subject_id, category, sealed.seal(key, STORE, category, values), at)

    def identity_change(self, subject: Subject, field: str, value: Any, at: str) -> list[TransactWriteItemTypeDef]:
        """The transaction items that set one verified identity field (a reviewed change request).

        The identity category is re-sealed with `value` in `field`, validated as it would be stored; the
        subject's profile version moves on and one change request less awaits review. Raises `Conflict`
        when the customer holds no identity any more (a change cannot create a partial one),
        `InvalidInput` when the result is not a valid identity, and `SubjectKeyUnavailable` when the
        customer's key is gone.
        """
        key = self.keyring.get(subject.subject_id)
        stored = self.profiles.get(subject.subject_id, IDENTITY)
        if stored is None:
            raise Conflict("The customer holds no identity to change any more.", {"category": IDENTITY})
        identity = sealed.unseal(key, STORE, IDENTITY, stored[sealed.FIELDS])
        identity[field] = value
        return [
            self._put_item(key, subject.subject_id, IDENTITY, _complete(IDENTITY, identity), at),
            self.subjects.touch(subject, bump_profile=True, pending_change=-1),
        ]


def _plain(model: Strict) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


def _merge(stored: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = {name: value for name, value in stored.items() if name not in _CARD_DERIVED}
    for name, value in changes.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def _complete(category: str, values: dict[str, Any]) -> dict[str, Any]:
    """Validate a category as it would be stored and add what is derived from it."""
    try:
        model = CATEGORY_MODELS[category].model_validate(values)
    except ValidationError as error:
        raise InvalidInput("The profile is not valid.", field_errors(error.errors(), (category,))) from None
    missing = model.missing()
    if missing:
        raise InvalidInput(
            "Required fields are missing.",
            {"fields": [{"field": f"{category}.{name}", "reason": "Field required"} for name in missing]},
        )
    plain = _plain(model)
    if category == "payment":
        plain["card_brand"] = card_brand(plain["card_number"])
        plain["card_last4"] = plain["card_number"][-4:]
    return plain


def _check_verified_fields(stored: dict[str, Any], after: dict[str, Any]) -> None:
    """Verified fields, once set, change (or go) only through a reviewed change request."""
    changed = [
        f"identity.{name}"
        for name in datamap.category("identity").verified_fields
        if name in stored and after.get(name) != stored[name]
    ]
    if changed:
        raise Conflict(
            "Verified fields can only be changed through a change request.",
            {"fields": changed, "change_request_url": "/v1/me/change-requests"},
        )
