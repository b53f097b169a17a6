"""Counting AWS calls through botocore's event hooks: how tests and benchmarks measure cost, never by timing."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from custody.platform import aws


@contextmanager
def counting_calls(*services: str, this_thread_only: bool = False) -> Iterator[Counter[str]]:
    """`service.Operation` → calls made through `custody.platform.aws.clients` for these services.

    `this_thread_only` leaves out the calls of other threads (the workflow's in-process Lambdas).
    """
    counted: Counter[str] = Counter()
    me = threading.get_ident()

    def record(event_name: str, **_: Any) -> None:
        if this_thread_only and threading.get_ident() != me:
            return
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
