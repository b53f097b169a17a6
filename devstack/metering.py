"""Counting AWS calls through botocore's event hooks: how tests and benchmarks measure cost, never by timing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from custody import aws


@contextmanager
def counting_calls(*services: str) -> Iterator[Counter[str]]:
    """`service.Operation` → calls made through `custody.aws.clients` for these services."""
    counted: Counter[str] = Counter()

    def record(event_name: str, **_: Any) -> None:
        service, operation = event_name.split(".", 2)[1:]
        counted[f"{service}.{operation}"] += 1

    built = [getattr(aws.clients, service)() for service in services]
    for client in built:
        client.meta.events.register("before-call", record)
    try:
        yield counted
    finally:
        for client in built:
            client.meta.events.unregister("before-call", record)
