"""Settings every test tier shares: no real AWS account is ever reachable from a test."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from devstack.stack import prepare_process_environment

# Fake credentials, set before any boto3 client or Powertools utility is created.
prepare_process_environment()
os.environ.update(
    {
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "CrmCustody",
        "POWERTOOLS_DEV": "0",
    }
)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The robustness suite's figures (tests/robustness), when it ran: a table, and reports/robustness.json."""
    from tests.robustness.figures import FIGURES

    if not FIGURES:
        return
    path = FIGURES.write()
    terminalreporter.write_sep("=", "robustness")
    for line in FIGURES.table():
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"  written to {path.relative_to(Path(__file__).resolve().parents[1])}")
