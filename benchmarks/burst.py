"""A burst of withdrawals, measured by the suite that attacks it: `tests/robustness/test_burst.py`.

The benchmark runs that test in a child process (its own local stack, the steps' concurrency held
low so Step Functions' tasks throttle and retry, the admission queue holding what the slots cannot)
and reads the figures it writes to `reports/burst.json`: withdrawals, failed, unrecorded, seconds
from the 202 to the certificate (p50, p99, and p50 against one erasure alone in the same run), Lambda
throttles and Step Functions retries. One measurement, asserted by the test and reported here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[1]
REPORT: Final = ROOT / "reports" / "burst.json"
WITHDRAWALS: Final = 100


def run() -> dict[str, Any]:
    """Run the burst suite once; raises `RuntimeError` when it failed (its figures would not be the system's)."""
    REPORT.unlink(missing_ok=True)
    env = {**os.environ, "CUSTODY_BURST_WITHDRAWALS": str(WITHDRAWALS)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/robustness/test_burst.py"]
    finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if finished.returncode != 0 or not REPORT.exists():
        raise RuntimeError(f"the burst suite failed:\n{finished.stdout[-4000:]}\n{finished.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(REPORT.read_text())
    rows = [{"figure": name, "value": value} for name, value in figures.items()]
    return {"rows": rows, "figures": figures}
