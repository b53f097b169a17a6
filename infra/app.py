"""The CDK app: `cdk synth` runs `python -m infra.app` (see cdk.json).

Synthesis runs the four cdk-nag packs as validation plugins: an unacknowledged finding fails it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import App, Validations

from infra import nag
from infra.config import CustodyConfig
from infra.stack import CustodyStack

STACK_ID = "CrmCustody"


def build_app(*, context: Mapping[str, Any] | None = None, outdir: str | None = None) -> App:
    app = App(context=dict(context or {}), outdir=outdir)
    config = CustodyConfig.from_context(app.node)
    CustodyStack(
        app,
        STACK_ID,
        config=config,
        description="CRM Custody: customer data kept with consent, and provably erased.",
    )
    Validations.of(app).add_plugins(*nag.packs(app))
    return app


def main() -> None:
    build_app().synth()


if __name__ == "__main__":
    main()
