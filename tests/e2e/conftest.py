"""End-to-end tests drive the served local stack over HTTP (`served_stack`, one per session)."""

from __future__ import annotations

import pytest

from tests.integration.conftest import ServedStack, served_stack

__all__ = ["ServedStack", "served_stack"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
