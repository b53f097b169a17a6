"""Settings every test tier shares: no real AWS account is ever reachable from a test.

IAM enforcement (devstack.iam) checks every AWS call a function makes against its role in the
synthesized template. A test during which a call was refused fails (unless it is marked
`iam_denials_expected`), and the session fails unless the whole run refused nothing and, when
any stack ran, checked something.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.iam import synthesis
from devstack.iam.ledger import LEDGER
from devstack.stack import prepare_process_environment
from tests import synth

# Fake credentials, set before any boto3 client or Powertools utility is created.
prepare_process_environment()
os.environ.update(
    {
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "CrmCustody",
        "POWERTOOLS_DEV": "0",
    }
)
# A cold template cache synthesizes in this process, once, shared with the infra tests.
synthesis.SYNTHESIZER = synth.write_template


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "iam_denials_expected: the test provokes IAM refusals on purpose")


@pytest.fixture(autouse=True)
def _no_iam_denials(request: pytest.FixtureRequest) -> Iterator[None]:
    before = LEDGER.snapshot()
    yield
    after = LEDGER.snapshot()
    if after["denied"] > before["denied"] and request.node.get_closest_marker("iam_denials_expected") is None:
        refused = after["denials"][len(before["denials"]) :] or ["(messages beyond the ledger's limit)"]
        pytest.fail("IAM refused AWS calls a function made:\n  " + "\n  ".join(refused), pytrace=False)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from tests.robustness.figures import FIGURES

    counted = LEDGER.snapshot()
    if not counted["stacks"]:
        return  # no local stack ran (unit or infra tests only): nothing was there to check
    FIGURES.counts["iam_calls_checked"] = counted["checked"]
    FIGURES.counts["iam_denied"] = counted["denied"]
    FIGURES.counts["iam_s3_404_as_403"] = counted["hidden_not_found"]
    FIGURES.breakdown["iam_calls_by_principal"] = Counter(counted["by_principal"])
    if counted["denied"] or not counted["checked"]:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The robustness and IAM figures, when they ran: a table, and reports/robustness.json."""
    from tests.robustness.figures import FIGURES

    if not FIGURES:
        return
    path = FIGURES.write()
    terminalreporter.write_sep("=", "robustness")
    for line in FIGURES.table():
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"  written to {path.relative_to(Path(__file__).resolve().parents[1])}")
    if "iam_calls_checked" in FIGURES.counts and (
        FIGURES.counts["iam_denied"] or not FIGURES.counts["iam_calls_checked"]
    ):
        terminalreporter.write_line("  FAILED: iam_denied must be 0 and iam_calls_checked more than 0")
