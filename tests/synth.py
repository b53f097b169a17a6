"""The CDK app synthesized once per test session, in process: the infra tests read it, and
IAM enforcement (devstack.iam) compiles its policies when its template cache is cold."""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from aws_cdk import App

from infra.app import STACK_ID, build_app

ROOT = Path(__file__).resolve().parents[1]
CDK_JSON = ROOT / "cdk.json"


@dataclass(frozen=True)
class Synthesis:
    app: App
    outdir: Path
    template_path: Path


@cache
def synthesis() -> Synthesis:
    outdir = Path(tempfile.mkdtemp(prefix="cdk.out-"))
    atexit.register(shutil.rmtree, outdir, ignore_errors=True)
    context = json.loads(CDK_JSON.read_text())["context"]
    # The template is what is under test: reference assets in place instead of copying them.
    context["aws:cdk:disable-asset-staging"] = True
    app = build_app(context=context, outdir=str(outdir))
    try:
        app.synth()
    except RuntimeError as error:  # cdk-nag found something: the findings test reports what
        if "Validation failed" not in str(error):
            raise
    return Synthesis(app, outdir, outdir / f"{STACK_ID}.template.json")


def write_template(out: Path) -> None:
    """devstack.iam.synthesis.SYNTHESIZER for the test session: this session's synthesis."""
    out.write_text(synthesis().template_path.read_text())
