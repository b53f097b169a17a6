"""Restriction of processing (GDPR art. 18), declared once.

The grounds a customer may give, and what each kind of route does while a customer's processing is
restricted.

A restriction keeps the customer's data stored and stops its use. Art. 18(2) still allows, besides
storage, processing with the data subject's consent, for legal claims, for the protection of another
person's rights or for an important public interest: the customer's own requests (access, export,
rectification, consent withdrawal, objection, erasure) are their consent and keep working, and so does
the privacy officers' review of a rectification (verifying accuracy is what art. 18(1)(a) restricts
for). Staff grants, staff reads and interactions, disclosures to sub-processors, and new collection for
or consent to a purpose that is not essential (`datamap.Purpose.essential`) are refused.
"""

from __future__ import annotations

from enum import StrEnum


class Ground(StrEnum):
    """Why a customer restricts processing: GDPR art. 18(1)(a)-(d), a declared code, never free text."""

    ACCURACY_CONTESTED = "accuracy_contested"  # (a) for a period that lets the controller verify accuracy
    UNLAWFUL_PROCESSING = "unlawful_processing"  # (b) unlawful, and the customer opposes erasure
    NEEDED_FOR_LEGAL_CLAIMS = "needed_for_legal_claims"  # (c) no longer needed by us, needed by them for claims
    OBJECTION_PENDING = "objection_pending"  # (d) objected under art. 21(1), pending verification

    @property
    def article(self) -> str:
        """The provision the ground is: `GDPR art. 18(1)(a)` ... `(d)`."""
        return f"GDPR art. 18(1)({'abcd'[list(Ground).index(self)]})"


GROUNDS: tuple[str, ...] = tuple(ground.value for ground in Ground)


class UnderRestriction(StrEnum):
    """What a route does for a customer whose processing is restricted (`catalog.Route.under_restriction`).

    `refused`: 403 `processing_restricted` (the staff grants, reads, interactions and disclosures).
    `permitted`: processing GDPR art. 18(2) allows — the data subject's own requests, their erasure, the
    review of their rectification (art. 18(1)(a)); customer routes still refuse new collection for, or a
    new grant of, a purpose that is not essential. `no_customer`: the route processes no customer's data.
    """

    REFUSED = "refused"
    PERMITTED = "permitted"
    NO_CUSTOMER = "no_customer"
