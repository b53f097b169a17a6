"""Logs, metrics and traces of a function, named after it (`catalog.Function.service`).

Every function builds its three with `observability(name)`. What they may carry is set where
they are used: ids, names, counts and statuses, never a value a person submitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aws_lambda_powertools import Logger, Metrics, Tracer

from custody.declared import catalog

# Every call we make goes through botocore; patching only it spares the X-Ray SDK from importing
# and wrapping every other library it knows (httplib, requests, sqlite3, ...).
TRACED_MODULES: Final = ("botocore",)


@dataclass(frozen=True)
class Observability:
    """A function's Powertools logger, tracer and metrics, all named after its service."""

    logger: Logger
    tracer: Tracer
    metrics: Metrics


def observability(function_name: str) -> Observability:
    """The logger, tracer (botocore patched only) and metrics of the catalog function `function_name`.

    Metrics go to the `CrmCustody` namespace. Raises `KeyError` for a name the catalog does not declare.
    """
    service = catalog.function(function_name).service
    return Observability(
        logger=Logger(service=service),
        tracer=Tracer(service=service, patch_modules=TRACED_MODULES),
        metrics=Metrics(namespace=catalog.METRICS_NAMESPACE, service=service),
    )
