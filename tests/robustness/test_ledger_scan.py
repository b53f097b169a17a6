"""After the hostile suites: nothing a caller submitted is in the Object Lock ledger, and every event
the suites wrote is in the ledger's grammar (runs after test_bad_input and test_fuzz, by name)."""

from __future__ import annotations

import pytest

from tests.integration.conftest import LocalStack
from tests.robustness.figures import FIGURES
from tests.robustness.ledger_scan import SUBMITTED, scan


def test_no_string_the_hostile_suites_submitted_is_in_the_ledger(local_stack: LocalStack) -> None:
    if not SUBMITTED.requests:
        pytest.skip("run together with tests/robustness/test_bad_input.py and test_fuzz.py (they record)")
    result = scan(local_stack, SUBMITTED.strings)
    FIGURES.add("ledger_objects_scanned", result.objects)
    FIGURES.add("caller_strings_checked", result.caller_strings)
    FIGURES.add("ledger_caller_text_hits", len(result.hits))
    assert result.objects
    assert result.caller_strings
    assert not result.hits, result.hits[:10]
    assert not result.outside_grammar, result.outside_grammar[:10]
