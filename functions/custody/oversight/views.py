"""What the auditor's API routes return: the data `custody audit show|verify|report` prints, as JSON.

`request_review` reads a request's chain(s) with `AuditorReader` and judges each with `verify` — the
same calls `ops.commands.audit` makes — and returns per chain its executions' history events, its
ledger events, the verification and the filed certificates. `disposal_page` pages the disposal
register (`custody.retention.disposal.register`, what `custody retention register` prints).

Nothing returned is personal data: the ledger holds ids, kinds, outcomes, counts, dates and digests
by construction (`custody.audit.grammar`), the history events only state names, step names and store
names, and a register entry only ids, reasons, counts and dates.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Final

from custody.audit.review.chain import Chain, Execution, Verification
from custody.audit.review.reader import AuditorReader, ClientFactory
from custody.audit.review.verification import verify
from custody.declared import clock
from custody.declared.errors import NotFound
from custody.declared.settings import Settings
from custody.platform import paging
from custody.retention.disposal import register

DISPOSALS: Final = "disposals"  # the cursor's store name (custody.platform.paging)
DISPOSALS_PAGE_MAX: Final = 100


def request_review(settings: Settings, clients: ClientFactory, request_id: str) -> dict[str, Any]:
    """Every chain of `request_id` with its executions, ledger events, verification and certificates.

    Raises `NotFound` when the ledger holds no event and the workflow no execution for it (what
    `custody audit show` refuses with "no ledger events and no executions").
    """
    chains = AuditorReader(settings, clients).chains(request_id)
    if not any(chain.events or chain.executions for chain in chains):
        raise NotFound(f"The ledger holds nothing for request {request_id}.")
    reviewed = [_chain_view(chain, verify(chain)) for chain in chains]
    return {
        "request_id": request_id,
        "verified": all(item["verification"]["ok"] for item in reviewed),
        "chains": reviewed,
    }


def _chain_view(chain: Chain, verification: Verification) -> dict[str, Any]:
    return {
        "chain_id": chain.chain_id,
        "head": dict(chain.head) if chain.head else None,
        "head_readable": chain.head_readable,
        "executions": [_execution_view(execution) for execution in chain.executions],
        "ledger": [asdict(event) for event in chain.latest_events()],
        "verification": {
            "ok": verification.ok,
            "events": verification.events,
            "head_seq": verification.head_seq,
            "head_hash": verification.head_hash,
            "certificate_digest": verification.certificate_digest,
            "findings": [asdict(finding) for finding in verification.findings],
        },
        "certificates": [{"digest": sha, "document": document} for sha, document in chain.certificates().items()],
    }


def _execution_view(execution: Execution) -> dict[str, Any]:
    return {
        "name": execution.name,
        "status": execution.status,
        "started_at": _iso(execution.started),
        "events": [
            {"at": _iso(event.at), "kind": event.kind, "state": event.state, "step": event.step, "target": event.target}
            for event in execution.events
        ],
    }


def _iso(moment: datetime) -> str:
    return clock.iso(moment.astimezone(UTC))


def disposal_page(
    settings: Settings, since: datetime, until: datetime, limit: int, cursor: str | None
) -> dict[str, Any]:
    """One page of the disposal register of requests created in [since, until], oldest first.

    At most `limit` entries (1 to `DISPOSALS_PAGE_MAX`); `next_cursor` resumes after the last one, None
    on the last page. The cursor is `custody.platform.paging`'s (a 400 for one it did not issue): its
    position is the last entry's `requested_at` and `request_id`, ids and dates only.
    """
    limit = max(1, min(limit, DISPOSALS_PAGE_MAX))
    after = paging.decode(DISPOSALS, cursor)
    entries = register(settings, since, until)
    if after is not None:
        entries = [entry for entry in entries if _position(entry) > after]
    page = entries[:limit]
    more = len(entries) > limit
    return {
        "since": clock.iso(since),
        "until": clock.iso(until),
        "disposals": page,
        "next_cursor": paging.encode(DISPOSALS, _position(page[-1])) if more and page else None,
    }


def _position(entry: dict[str, Any]) -> str:
    return f"{entry['requested_at']}|{entry['request_id']}"
