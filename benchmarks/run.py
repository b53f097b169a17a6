"""`make bench`: every benchmark, printed as markdown tables, figures in results/latest.json.

Figures are ratios of measurements taken in this same run, or exact counts: these machines are
noisy, so no absolute time is compared with anything measured elsewhere.
"""

from __future__ import annotations

import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import api, burst, coldstart, cost, erasure, export, ledger, workflow

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row.get(column, "")) for column in columns) + " |" for row in rows]
    return "\n".join(lines)


def main() -> int:
    print("# CRM Custody benchmarks\n")
    erasure_results = erasure.run()
    print("## Erasure: AWS calls against the batching floor and a naive baseline\n")
    print(
        table(
            erasure_results["rows"],
            ["items", "versions", "others", "calls", "floor", "scans", "naive_calls", "seconds", "naive_seconds"],
        )
    )
    workflow_results = workflow.run()
    print("\n## A whole erasure: the state machine's run, every call its steps make, by purpose\n")
    print(
        table(
            workflow_results["rows"],
            [
                "interactions",
                "documents",
                "status",
                "calls",
                *workflow.PURPOSE_COLUMNS,
                "transitions",
                "invocations",
                "seconds",
            ],
        )
    )
    burst_results = burst.run()
    print("\n## A burst of withdrawals: every erasure certified, throttled on purpose\n")
    print(table(burst_results["rows"], ["figure", "value"]))
    api_results = api.run()
    print("\n## API: in-process latency and calls against the bare boto3 floor\n")
    print(
        table(
            api_results["rows"],
            ["route", "calls", "p50_ms", "p95_ms", "floor_p50_ms", "floor_p95_ms", "p50_over_floor", "own_p50_ms"],
        )
    )
    cold = coldstart.run()
    print("\n## Cold start: handler import time against boto3 + Powertools resolver + pydantic\n")
    print(
        table(
            cold["rows"],
            [
                "function",
                "import_ms",
                "floor_ms",
                "over_floor",
                "stack_ms",
                "over_stack",
                "modules",
                "floor_modules",
                "modules_over_floor",
            ],
        )
    )
    print("\n## Cold start: the validation libraries (imported at first use), and a profile's first validation\n")
    print(table(cold["validation"], ["measure", "ms", "stack_ms", "over_stack", "modules_over_stack"]))
    export_results = export.run()
    print("\n## Export: one customer's archive at growing sizes, against moving the same bytes with bare boto3\n")
    print(
        table(
            export_results["rows"],
            [
                "interactions",
                "documents",
                "held_mb",
                "archive_mb",
                "calls",
                "floor_calls",
                "calls_over_floor",
                "seconds_per_mb",
                "seconds_over_floor",
                "peak_mb",
                "max_rss_mb",
                "usd_per_gb",
            ],
        )
    )
    ledger_results = ledger.run()
    print("\n## Audit ledger: writers appending at once to one chain and to a sharded family\n")
    print(table(ledger_results["rows"], ledger.COLUMNS))
    typical = workflow_results["rows"][0]  # a small customer's whole erasure, the ledger and identity included
    costs = cost.run(api_results, typical["calls_by_operation"], typical["transitions"], typical["invocations"])
    print(f"\n## Cost model (prices {costs['prices_as_of']})\n")
    print(table([{**row, "usd_each": f"{row['usd_each']:.8f}"} for row in costs["rows"]], ["operation", "usd_each"]))
    figures = {
        **erasure_results["figures"],
        **workflow_results["figures"],
        **burst_results["figures"],
        **api_results["figures"],
        **cold["figures"],
        **export_results["figures"],
        **ledger_results["figures"],
        **costs["figures"],
    }
    print("\n## Figures\n")
    print(table([{"figure": name, "value": value} for name, value in figures.items()], ["figure", "value"]))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
                "figures": figures,
                "erasure": erasure_results["rows"],
                "workflow": workflow_results["rows"],
                "burst": burst_results["figures"],
                "api": api_results["rows"],
                "coldstart": cold["rows"],
                "coldstart_validation": cold["validation"],
                "export": export_results["rows"],
                "ledger": ledger_results["rows"],
                "cost": costs,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwritten: {RESULTS.relative_to(RESULTS.parents[2])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
