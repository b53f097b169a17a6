"""Logs, metrics and traces of a function, named after it (`catalog.Function.service`).

Every function builds its three with `observability(name)`. What they may carry is set where
they are used: ids, names, counts and statuses, never a value a person submitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

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


def count(name: str) -> None:
    """Add 1 to the metric `name` (a name, never a value) of the running function, from library code.

    Powertools' metrics are shared by every `Metrics` instance of the process (class attributes), so
    the function's own `log_metrics` publishes this count with its own.
    """
    Metrics(namespace=catalog.METRICS_NAMESPACE).add_metric(name=name, unit=MetricUnit.Count, value=1)


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
