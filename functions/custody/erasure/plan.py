"""What an erasure covers: what a cause erases, the stores that hold its scope, and the items in it.

The scope is a set of data-map categories. A store is in the plan when it holds at least one
of them; in a store holding several categories (`category_attribute`), an item is in scope when
its category is; in a single-category store, every item of the subject is.

A full erasure asks for every category; what a legal obligation keeps (`datamap.Category.obligation`)
is taken out of its scope at Freeze when the customer has such records (`retained_by`). Those records,
and the access log of their reads meanwhile, are the scope of the erasure that ends the retention
(`of_obligations_ended`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from custody.declared import datamap
from custody.stores.requests import FULL_ERASURE_REASONS, ErasureReason


def stores_in_scope(scope: Iterable[str]) -> tuple[datamap.Store, ...]:
    """The erasable stores holding at least one category of `scope`, in data-map order."""
    wanted = set(scope)
    return tuple(
        store
        for store in datamap.erasable_stores()
        if any(category.name in wanted for category in datamap.categories_in(store.name))
    )


def item_in_scope(store: datamap.TableStore, item: Mapping[str, Any], scope: Iterable[str]) -> bool:
    """Whether an item (its key and category) of a store in the plan is to be erased."""
    if store.category_attribute is None:
        return True
    return str(item.get(store.category_attribute)) in set(scope)


@dataclass(frozen=True)
class Erasure:
    """What a cause sets in motion: its reason, the categories to erase, the sub-processors to ask.

    A full erasure (`stores.requests.FULL_ERASURE_REASONS`) covers every category; its scope is
    set when the request is made.
    """

    reason: ErasureReason
    scope: tuple[str, ...] = ()
    processors: tuple[str, ...] = ()

    @property
    def full(self) -> bool:
        """Whether the cause erases the customer entirely: data, key and identity."""
        return self.reason in FULL_ERASURE_REASONS


def retained_by(full_scope: Iterable[str], scope: Iterable[str]) -> tuple[datamap.Category, ...]:
    """The categories under a legal obligation a full erasure asked for (`full_scope`) but keeps (not in `scope`)."""
    asked, kept = set(full_scope), set(scope)
    return tuple(item for item in datamap.retained_categories() if item.name in asked and item.name not in kept)


def kept_by_full_erasure(scope: Iterable[str]) -> tuple[datamap.Category, ...]:
    """The categories under a legal obligation a full erasure of `scope` (narrowed at Freeze) keeps."""
    return retained_by((item.name for item in datamap.CATEGORIES), scope)


def of_obligations_ended() -> Erasure:
    """What the end of a retained customer's legal obligations erases (reason `retention_obligation_ended`).

    The categories the obligations kept, the access log of the reads made of them meanwhile
    (`staff_access`: a privacy officer's grants and reads under `legal_obligation`), and the copies
    (`datamap.copies()`), as every erasure of some category does.
    """
    scope = (
        *(item.name for item in datamap.retained_categories()),
        "staff_access",
        *(item.name for item in datamap.copies()),
    )
    return Erasure(ErasureReason.RETENTION_OBLIGATION_ENDED, tuple(dict.fromkeys(scope)))


def of_withdrawn_purpose(purpose: str, granted: frozenset[str], disclosed_to: frozenset[str]) -> Erasure | None:
    """What withdrawing `purpose` (one of `granted`) erases, if anything.

    Withdrawing `crm_core` is a full withdrawal. Another purpose erases only the categories it
    alone justified (categories no granted purpose covered hold nothing to erase), and the copies of
    them (`datamap.copies()`: the customer's exports). Withdrawing
    `sharing:<processor>` from a processor that received the customer's data asks that processor
    to delete it; our own copies stay, their own purposes still justify them.
    """
    if purpose == datamap.CRM_CORE:
        return Erasure(ErasureReason.WITHDRAWAL)
    remaining = granted - {purpose}
    unjustified_before = set(datamap.unjustified_categories(granted))
    scope = tuple(item.name for item in datamap.unjustified_categories(remaining) if item not in unjustified_before)
    if scope:
        # An export taken before the withdrawal may hold what it erases: it goes too.
        return Erasure(ErasureReason.PURPOSE_WITHDRAWN, (*scope, *(item.name for item in datamap.copies())))
    processor = purpose.removeprefix(datamap.SHARING_PREFIX) if purpose.startswith(datamap.SHARING_PREFIX) else None
    if processor and processor in disclosed_to:
        return Erasure(ErasureReason.PURPOSE_WITHDRAWN, (), (processor,))
    return None
