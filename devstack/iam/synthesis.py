"""The synthesized template enforcement reads, synthesized at most once per change of the sources.

`template()` returns the parsed `CrmCustody` template (cached for the process). Where it
comes from, first found wins:

1. `$CUSTODY_IAM_TEMPLATE`, a template file (the test session hands its own to the served stack);
2. `build/iam/<fingerprint>.template.json`, where the fingerprint hashes everything synthesis
   reads (`infra/`, `functions/custody/`, `statemachines/`, `cdk.json`): a stale template is
   never used;
3. synthesis by `SYNTHESIZER` (by default `python -m devstack.iam.synthesis <out>` in a
   subprocess, ~25 s; the test session synthesizes in-process instead, once, shared with the
   infra tests), written to 2.

Errors: `SynthesisFailed` when synthesis wrote no template.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from devstack.paths import REPO_ROOT

TEMPLATE_VARIABLE: Final = "CUSTODY_IAM_TEMPLATE"
CACHE_DIR: Final = REPO_ROOT / "build" / "iam"
STACK_ID: Final = "CrmCustody"
_SOURCES: Final = ("infra", "functions/custody", "statemachines")


class SynthesisFailed(RuntimeError):
    pass


def fingerprint() -> str:
    digest = hashlib.sha256((REPO_ROOT / "cdk.json").read_bytes())
    for folder in _SOURCES:
        for path in sorted((REPO_ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in (".py", ".json"):
                digest.update(str(path.relative_to(REPO_ROOT)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def synthesize_in_subprocess(out: Path) -> None:
    command = [sys.executable, "-m", "devstack.iam.synthesis", str(out)]
    subprocess.run(command, cwd=REPO_ROOT, check=True, capture_output=True)  # noqa: S603 - our own module


Synthesizer = Callable[[Path], None]
SYNTHESIZER: Synthesizer = synthesize_in_subprocess
_LOCK: Final = threading.Lock()
_LOADED: dict[Path, dict[str, Any]] = {}


def template_path() -> Path:
    given = os.environ.get(TEMPLATE_VARIABLE)
    if given:
        return Path(given)
    cached = CACHE_DIR / f"{fingerprint()}.template.json"
    if not cached.exists():
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=CACHE_DIR) as scratch:
            out = Path(scratch) / "template.json"
            SYNTHESIZER(out)
            if not out.exists():
                raise SynthesisFailed(f"synthesis wrote no template at {out}")
            out.replace(cached)
    return cached


def template() -> dict[str, Any]:
    """The parsed template (read once per process and path)."""
    with _LOCK:
        path = template_path()
        if path not in _LOADED:
            _LOADED[path] = json.loads(path.read_text())
        return _LOADED[path]


def synthesize(out: Path) -> None:
    """Synthesize the CDK app into a temporary outdir and copy its template to `out`."""
    from infra.app import build_app

    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    context["aws:cdk:disable-asset-staging"] = True
    with tempfile.TemporaryDirectory() as outdir:
        app = build_app(context=context, outdir=outdir)
        try:
            app.synth()
        except RuntimeError as error:  # cdk-nag findings fail validation; the template is still written
            if "Validation failed" not in str(error):
                raise
        out.write_text((Path(outdir) / f"{STACK_ID}.template.json").read_text())


if __name__ == "__main__":
    synthesize(Path(sys.argv[1]))
