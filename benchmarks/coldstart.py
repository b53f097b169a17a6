"""Cold start: import time of each function's handler (`python -X importtime`, median of fresh
processes) beside the floor — boto3, the Powertools resolver and pydantic alone.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from custody import catalog

ROOT = Path(__file__).resolve().parents[1]
RUNS = 5
FLOOR = "import boto3, pydantic; from aws_lambda_powertools.event_handler import APIGatewayRestResolver"


def _import_us(statement: str) -> float:
    """Cumulative microseconds of the statement's top-level imports, in a fresh process."""
    environment = {**os.environ, "PYTHONPATH": f"{ROOT / 'functions'}{os.pathsep}{ROOT}"}
    environment.pop("PYTHONDONTWRITEBYTECODE", None)  # measure loading, not compiling
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    )
    total = 0
    for line in result.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if not line.startswith("import time:") or len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        if parts[2].startswith(" ") and not parts[2].startswith("  "):  # nested imports are indented
            total += int(parts[1])
    return float(total)


def _median(statement: str) -> float:
    return statistics.median(_import_us(statement) for _ in range(RUNS))


def run() -> dict[str, Any]:
    floor = _median(FLOOR)
    rows = []
    for function in catalog.FUNCTIONS:
        handler = _median(f"import {function.name}.handler")
        rows.append(
            {
                "function": function.name,
                "import_ms": round(handler / 1000, 1),
                "floor_ms": round(floor / 1000, 1),
                "over_floor": round(handler / floor, 2),
            }
        )
    return {"rows": rows, "figures": {f"coldstart.{row['function']}.over_floor": row["over_floor"] for row in rows}}
