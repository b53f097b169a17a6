"""The audit ledger under contention: N writers appending at once to one chain, and to a shared family.

Each writer is a thread (a Lambda environment: its own shard of a shared family; the process's
remembered heads are shared, as they are not between Lambdas) and all start together. A burst
holds `BURST` events (`ClaimBackoff.max_attempts`, the most that provably loses none: a refused
claim means another event was appended); the sustained row has 32 writers record
`SUSTAINED_EVENTS` each, past that bound, to show what it costs. Then the auditor's reader lists
what is in the bucket and verifies every chain written. Each scenario runs in a fresh account.

Figures, all counts: events asked for and written, events lost (a `record` that raised), DynamoDB
and S3 calls per written event, and whether every chain verifies with seqs 1..K. The backoff's
sleeps run at `TIME_SCALE` of their length (moto answers a claim in about the time DynamoDB does,
but runs every thread's calls on one core); the number of tries does not depend on it.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Final

from benchmarks.harness import account
from custody.audit.ledger import CLAIM_BACKOFF, CLAIMED_HEADS, AuditLedger, refusals_chain
from custody.audit.review.reader import AuditorReader
from custody.audit.review.verification import verify
from custody.declared.settings import Settings
from devstack.metering import counting_calls
from devstack.provision import client_factory

WRITERS: Final = (2, 8, 32)
BURST: Final = CLAIM_BACKOFF.max_attempts
SUSTAINED_EVENTS: Final = 8
TIME_SCALE: Final = 0.5
REFUSING_FUNCTION: Final = "collect"


@dataclass
class Contention:
    """What N writers on one chain (or family) did: counts only."""

    chain: str
    writers: int
    asked: int
    written: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    chains_verified: int = 0
    chains_failed: int = 0
    seqs_contiguous: bool = True

    @property
    def lost(self) -> int:
        return self.asked - self.written

    @property
    def calls_per_event(self) -> float:
        return round(sum(self.calls.values()) / max(self.written, 1), 2)


def _event(chain: str, index: int) -> dict[str, Any]:
    if chain.startswith("refusals/"):
        return {"step": "access_refused", "target": "POST /v1/me/consents", "outcome": "forbidden", "actor": "public"}
    return {
        "step": "erase_store",
        "target": "profiles",
        "outcome": "ok",
        "actor": "erasure-workflow",
        "counts": {"deleted": index},
    }


def contend(settings: Settings, chain: str, writers: int, events: int, time_scale: float = TIME_SCALE) -> Contention:
    """`writers` threads each record `events` events on `chain` at once; then the chains are read and verified.

    A shared family's events are found in its shards; `seqs_contiguous` also checks that the chains
    hold exactly the events written.
    """
    ledger = AuditLedger(settings, backoff=replace(CLAIM_BACKOFF, time_scale=time_scale))
    result = Contention(chain, writers, writers * events)
    start = threading.Barrier(writers)
    lock = threading.Lock()
    CLAIMED_HEADS.clear()

    def write() -> None:
        start.wait()
        for index in range(events):
            try:
                ledger.record(chain_id=chain, **_event(chain, index))
            except Exception as error:  # counted: a lost event is the figure
                with lock:
                    result.errors[type(error).__name__] += 1
                continue
            with lock:
                result.written += 1

    with counting_calls("dynamodb", "s3") as calls:
        threads = [threading.Thread(target=write) for _ in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    result.calls = Counter(calls)
    reader = AuditorReader(settings, client_factory(settings.region))
    written = 0
    for found in reader.chains(chain, with_history=False):
        verification = verify(found)
        written += verification.events
        result.chains_verified += verification.ok
        result.chains_failed += not verification.ok
        seqs = [event.seq for event in found.latest_events()]
        result.seqs_contiguous &= seqs == list(range(1, len(seqs) + 1))
    result.seqs_contiguous &= written == result.written
    return result


def _row(label: str, found: Contention) -> dict[str, Any]:
    return {
        "chain": label,
        "writers": found.writers,
        "asked": found.asked,
        "written": found.written,
        "lost": found.lost,
        "calls_per_event": found.calls_per_event,
        "claims": found.calls["dynamodb.UpdateItem"],
        "reads": found.calls["dynamodb.GetItem"],
        "puts": found.calls["s3.PutObject"],
        "chains": found.chains_verified + found.chains_failed,
        "verified": found.chains_failed == 0 and found.seqs_contiguous,
    }


def _figures(prefix: str, found: Contention) -> dict[str, Any]:
    return {
        f"{prefix}.lost_events": found.lost,
        f"{prefix}.calls_per_event": found.calls_per_event,
        f"{prefix}.writers": found.writers,
        f"{prefix}.events_written": found.written,
        f"{prefix}.chains_verified": found.chains_failed == 0 and found.seqs_contiguous,
    }


def run() -> dict[str, Any]:
    """Every scenario in a fresh account: `{"rows": [...], "figures": {...}}` (figures at 32 writers)."""
    family = refusals_chain(REFUSING_FUNCTION)
    # (label, chain, writers, events each, figure prefix or None)
    scenarios: list[tuple[str, str, int, int, str | None]] = [
        (f"one chain, burst of {BURST}", str(uuid.uuid4()), writers, BURST // writers, None) for writers in WRITERS
    ]
    scenarios[-1] = (*scenarios[-1][:4], "audit")
    scenarios.append((f"{family} (sharded), burst of {BURST}", family, 32, BURST // 32, "audit.refusals"))
    scenarios.append(
        (
            f"one chain, {SUSTAINED_EVENTS} each (past the bound)",
            str(uuid.uuid4()),
            32,
            SUSTAINED_EVENTS,
            "audit.sustained",
        )
    )
    rows = []
    figures: dict[str, Any] = {}
    for label, chain, writers, events, prefix in scenarios:
        with account() as (_, settings):
            found = contend(settings, chain, writers, events)
        rows.append(_row(label, found))
        if prefix is not None:
            figures.update(_figures(prefix, found))
    return {"rows": rows, "figures": figures}


COLUMNS: Final = [
    "chain",
    "writers",
    "asked",
    "written",
    "lost",
    "calls_per_event",
    "claims",
    "reads",
    "puts",
    "chains",
    "verified",
]


if __name__ == "__main__":
    from benchmarks.run import table

    results = run()
    print(table(results["rows"], COLUMNS))
    print(results["figures"])
