"""A function whose handler is a module the test puts into `sys.modules`: the runtime imports it from there.

`deployment_zip()` is the code a probe function is created with (the runtime never reads it);
`probe_module(name)` installs an empty module recording its `calls`, for as long as the block runs.
"""

from __future__ import annotations

import io
import sys
import types
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from devstack import runtime


def deployment_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "imported from sys.modules")
    return buffer.getvalue()


@contextmanager
def probe_module(name: str) -> Iterator[types.ModuleType]:
    module = types.ModuleType(name)
    module.calls = []  # type: ignore[attr-defined]
    sys.modules[name] = module
    try:
        yield module
    finally:
        del sys.modules[name]


def create_probe_functions(client: Any, role: str, module: str, names: tuple[str, ...] = ("caller", "target")) -> None:
    """A function per name, its handler `<module>.<name>` (the probe module's attribute of that name)."""
    for name in names:
        client.create_function(
            FunctionName=name,
            Runtime=runtime.LAMBDA_RUNTIME,
            Role=role,
            Handler=f"{module}.{name}",
            Code={"ZipFile": deployment_zip()},
            Timeout=10,
        )
