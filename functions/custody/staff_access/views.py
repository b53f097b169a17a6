"""What a staff member sees of a customer: the granted categories decrypted, the rest masked.

Categories outside the grant are never decrypted. Ordinary personal categories show which fields
exist and nothing of what they hold (values erased with Powertools data masking); a sensitive or
special category (`datamap.Sensitivity`: card data, GDPR art. 9 health data) outside the grant is
not named at all, since that a customer has, say, allergy records is itself health data.
A refused read (no grant, someone else's, unapproved, expired, or a purpose the customer no
longer grants) writes nothing but a refused-access audit event.
"""

from __future__ import annotations

from typing import Any, Final

from aws_lambda_powertools.utilities.data_masking import DataMasking

from custody.access_control.principals import StaffMember
from custody.crypto import sealed
from custody.crypto.keyring import SubjectKeyring, get_keyring
from custody.customers.profile import StoredProfile
from custody.declared import datamap
from custody.declared.errors import ConsentRequired, Forbidden
from custody.declared.settings import Settings
from custody.platform import paging
from custody.staff_access.grants import AccessGrants, Grant, customer_unavailable, under_legal_obligation
from custody.stores.interactions import InteractionsTable
from custody.stores.profiles import ProfilesTable
from custody.stores.subjects import SubjectRegistry

PROFILES: Final = "profiles"
INTERACTIONS: Final = "interactions"
_masker = DataMasking(provider=None)


def check_still_justified(grant: Grant, registry: SubjectRegistry) -> None:
    """Raise unless the grant's customer may still be shown under it, now.

    `Forbidden` when the customer is no longer active (erasing or erased), `ProcessingRestricted` while they
    have restricted processing (GDPR art. 18: a grant given before stops working), `ConsentRequired` when
    they withdrew the grant's purpose. A `legal_obligation` grant needs no consent: the customer must be
    active or `retained` with no erasure pending (`under_legal_obligation`).
    """
    subject = registry.load(grant.subject_id)
    if grant.purpose == datamap.LEGAL_OBLIGATION:
        if not under_legal_obligation(subject):
            raise customer_unavailable()
        return
    if subject.erasure_started:
        raise customer_unavailable()
    subject.ensure_unrestricted()
    if grant.purpose not in subject.purposes:
        raise ConsentRequired([grant.purpose])


def named_outside_grants(category: str) -> bool:
    """Whether a view may say that the customer has `category` without a grant for it: ordinary personal data only."""
    return datamap.category(category).sensitivity is datamap.Sensitivity.PERSONAL


def masked(values: dict[str, Any]) -> dict[str, Any]:
    """The same fields, every value erased by Powertools data masking (`*****`): which fields exist, no more."""
    erased: dict[str, Any] = _masker.erase(values, fields=list(values))
    return erased


class StaffViews:
    """What staff see of customers under their grants, from `settings` (`keyring`, the process-wide one by default)."""

    def __init__(self, settings: Settings, keyring: SubjectKeyring | None = None) -> None:
        self.settings = settings
        self.grants = AccessGrants(settings)
        self.subjects = SubjectRegistry(settings)
        self.keyring = keyring or get_keyring()

    def view(self, staff: StaffMember, customer_id: str, grant_id: str) -> dict[str, Any]:
        """A customer as `staff` may see them under grant `grant_id`: granted categories opened, ordinary ones masked.

        Returns `{customer_id, grant_id, purpose, ticket, expires_at, granted, shown, masked,
        categories, interactions, interactions_count, interactions_next_cursor}`; categories map
        name -> field -> value, the card shown only as brand and last four digits. Under a grant for
        interactions, `interactions` is their first page (oldest first, at most
        `paging.REPORT_STORE_BUDGET_BYTES` on the wire, at least one), `interactions_count` how many the
        customer has and `interactions_next_cursor` the cursor for `interactions_page` (None when the
        page holds them all); without one, `interactions` is `*****` when the customer has any (else
        empty) and the count and cursor are None. The read is recorded in the customer's access log and
        the audit ledger. Raises `Forbidden` (no grant of theirs, pending, expired, customer not active),
        `ProcessingRestricted` (the customer restricted processing) and `ConsentRequired` (purpose withdrawn).
        """
        grant = self.grants.usable(staff, customer_id, grant_id)
        check_still_justified(grant, self.subjects)
        granted = set(grant.categories)
        categories: dict[str, Any] = {}
        opened: dict[str, dict[str, Any]] = {}
        for item in ProfilesTable(self.settings).items(customer_id):
            name, fields = str(item["category"]), item[sealed.FIELDS]
            if name in granted:
                opened[name] = sealed.unseal(self.keyring.get(customer_id), PROFILES, name, fields)
            elif named_outside_grants(name):
                categories[name] = masked(dict(fields))
        hidden = set(categories)
        categories.update(StoredProfile(0, opened).view())
        table = InteractionsTable(self.settings)
        interactions: list[dict[str, Any]] | str = []
        count: int | None = None
        next_cursor: str | None = None
        if INTERACTIONS in granted:
            page = self._interactions(customer_id, None, paging.REPORT_STORE_BUDGET_BYTES)
            interactions, next_cursor = page.items, page.next_cursor
            count = table.count(customer_id) if interactions else 0
            held = bool(interactions)
        else:
            held = table.any(customer_id)
            if held:
                interactions = masked({INTERACTIONS: INTERACTIONS})[INTERACTIONS]
        shown = tuple(sorted(granted & (set(opened) | ({INTERACTIONS} if held else set()))))
        self.grants.record_read(staff, grant, grant.categories, "staff_read")
        return {
            "customer_id": customer_id,
            "grant_id": grant.grant_id,
            "purpose": grant.purpose,
            "ticket": grant.ticket,
            "expires_at": grant.expires_at,
            "granted": list(grant.categories),
            "shown": list(shown),
            "masked": sorted(hidden | ({INTERACTIONS} if held and INTERACTIONS not in granted else set())),
            "categories": dict(sorted(categories.items())),
            "interactions": interactions,
            "interactions_count": count,
            "interactions_next_cursor": next_cursor,
        }

    def interactions_page(
        self, staff: StaffMember, customer_id: str, grant_id: str, cursor: str | None
    ) -> dict[str, Any]:
        """A further page of the customer's interactions under `staff`'s grant `grant_id`, which must cover them.

        Returns `{customer_id, grant_id, interactions, count, next_cursor}`: the interactions after the
        cursor's position, oldest first, at most `paging.PAGE_BUDGET_BYTES` on the wire and at least one
        when any remain; `count` is how many the customer has on a first page (no cursor), None on later
        ones; `next_cursor` None when no more remain. The partition read is the grant's customer's, never
        one the cursor names. Each page is a read in the customer's access log and the audit ledger, as
        the view is. Raises `Forbidden` (no usable grant of theirs, a grant without interactions,
        customer not active), `ConsentRequired` (purpose withdrawn) and `MalformedRequest` (400, a
        cursor not issued for interactions).
        """
        grant = self.grants.usable(staff, customer_id, grant_id)
        if INTERACTIONS not in grant.categories:
            raise Forbidden("This grant does not cover interactions.", {"reason": "category_not_granted"})
        after = paging.decode(INTERACTIONS, cursor)
        check_still_justified(grant, self.subjects)
        page = self._interactions(customer_id, after, paging.PAGE_BUDGET_BYTES)
        count = InteractionsTable(self.settings).count(customer_id) if after is None else None
        self.grants.record_read(staff, grant, (INTERACTIONS,), "staff_read")
        return {
            "customer_id": customer_id,
            "grant_id": grant.grant_id,
            "interactions": page.items,
            "count": count,
            "next_cursor": page.next_cursor,
        }

    def _interactions(self, customer_id: str, after: str | None, budget: int) -> paging.Page[dict[str, Any]]:
        entries = (
            (str(item["interaction_key"]), self._interaction(customer_id, item))
            for item in InteractionsTable(self.settings).items(customer_id, after)
        )
        return paging.take(INTERACTIONS, entries, budget)

    def _interaction(self, customer_id: str, item: dict[str, Any]) -> dict[str, Any]:
        key = str(item["interaction_key"])
        values = sealed.unseal(self.keyring.get(customer_id), INTERACTIONS, key, item[sealed.FIELDS])
        return {"interaction_key": key, "recorded_at": item.get("created_at"), **values}
