"""The robustness run's figures: recorded by the tests, printed as a table and written to
`reports/robustness.json` at the end of the session (see tests/conftest.py)."""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from pathlib import Path
from typing import Final

PROFILE_VARIABLE: Final = "CUSTODY_ROBUSTNESS_PROFILE"
REPORT: Final = Path(__file__).resolve().parents[2] / "reports" / "robustness.json"

# What each figure counts, in the order the table prints them.
DESCRIPTIONS: Final = {
    "fault_runs": "seeded runs with injected AWS faults (collection, access, erasure)",
    "faults_injected": "AWS calls answered with an injected fault",
    "aws_calls_under_faults": "AWS calls the functions made while faults were on",
    "erasures_verified": "erasures that ended verified (under faults or after a crash)",
    "erasure_reruns": "re-runs an operator would start after a failed run",
    "writes_accepted": "2xx writes under faults (each found afterwards)",
    "writes_refused": "writes refused under faults (5xx; the client retried)",
    "refused_but_committed": "refusals whose write had committed before a later call failed (known limit)",
    "crash_points": "workflow states crashed mid-step and resumed",
    "requests_fuzzed": "schemathesis requests against the OpenAPI document",
    "error_bodies_checked": "fuzzed refusals checked for the one error shape and for echoed input (none)",
    "bad_inputs": "hand-written hostile requests (bodies, encodings, tokens, paths)",
    "property_examples": "Hypothesis examples: bodies drawn for every route with one, and each validator's inputs",
    "property_5xx": "of the bodies drawn or undecodable, answered with a 5xx (must be 0)",
    "fields_decryption_checked": "stored fields opened by their owner only (5 wrong bindings refused each)",
    "matrix_cells": "route x identity authorization cells checked through the local gateway",
    "lambda_matrix_cells": "route x identity cells checked at the Lambda boundary (function invoked directly)",
    "lambda_matrix_violations": "cells the function decided otherwise than the catalog says (must be 0)",
    "leak_scans": "places scanned for submitted values (logs, metrics, history, ledger, errors)",
    "leak_hits": "submitted values found in any of them",
    "ledger_objects_scanned": "audit ledger object versions read after the hostile suites",
    "caller_strings_checked": "strings the hostile suites submitted, outside the ledger's grammar",
    "ledger_caller_text_hits": "ledger objects holding any of those strings (must be 0)",
    "residual_items": "items left for an erased customer",
    "late_write_routes": "catalog routes whose request writes, each held before a write while a full erasure ran",
    "late_write_routes_read_only": "catalog routes whose request made no AWS write (counted, nothing to hold)",
    "late_writes_tried": "requests held between their read and their write past an erasure's certificate",
    "late_writes_landed": "of those, left anything of the customer or made the certificate untrue (must be 0)",
    "restriction_routes_refused": "routes the catalog refuses under a restriction, refused with nothing written",
    "restriction_routes_served": "routes the catalog permits under a restriction, sent for a restricted customer",
    "restriction_races_held": "refused routes held before their write while the restriction landed (none landed)",
    "others_changed": "other customers whose data changed",
    "burst_withdrawals": "customers who withdrew at the same moment (tests/robustness/test_burst.py)",
    "burst_failed": "of their erasures, not completed and certified (must be 0)",
    "burst_unrecorded": "executions that ended otherwise than SUCCEEDED with their request not saying so (must be 0)",
    "burst_lambda_throttles": "Lambda invocations the burst had throttled (the steps' concurrency held low on purpose)",
    "burst_sfn_retries": "Step Functions retries the throttles and contention cost",
    "iam_calls_checked": "AWS calls of functions and the state machine authorized against their roles (whole run)",
    "iam_denied": "of those, refused as AWS would refuse them (must be 0)",
    "iam_s3_404_as_403": "S3 GetObject 404s answered 403, as S3 does without s3:ListBucket",
}


def profile() -> str:
    """`fast` (make test) or `soak` (make soak)."""
    return os.environ.get(PROFILE_VARIABLE, "fast")


def soak() -> bool:
    return profile() == "soak"


class Figures:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.breakdown: dict[str, Counter[str]] = {}
        self._lock = threading.Lock()

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self.counts[name] += amount

    def detail(self, name: str, counts: Counter[str] | dict[str, int]) -> None:
        with self._lock:
            self.breakdown.setdefault(name, Counter()).update(counts)

    def __bool__(self) -> bool:
        return bool(self.counts)

    def table(self) -> list[str]:
        names = [name for name in DESCRIPTIONS if name in self.counts] + sorted(set(self.counts) - set(DESCRIPTIONS))
        lines = [f"robustness figures ({profile()})", f"  {'figure':<24} {'value':>8}  meaning"]
        lines += [f"  {name:<24} {self.counts[name]:>8}  {DESCRIPTIONS.get(name, '')}" for name in names]
        for name, counts in sorted(self.breakdown.items()):
            lines.append(f"  {name}: " + ", ".join(f"{key} {value}" for key, value in sorted(counts.items())))
        return lines

    def write(self, path: Path = REPORT) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "profile": profile(),
            "figures": {name: self.counts[name] for name in sorted(self.counts)},
            "breakdown": {name: dict(sorted(counts.items())) for name, counts in sorted(self.breakdown.items())},
            "descriptions": {name: DESCRIPTIONS[name] for name in DESCRIPTIONS if name in self.counts},
        }
        path.write_text(json.dumps(document, indent=2) + "\n")
        return path


FIGURES: Final = Figures()
