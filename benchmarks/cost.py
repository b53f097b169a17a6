"""A cost model: dollars per 1,000 erasures and per million API requests, from the call counts
this run measured and published AWS prices (us-east-1, on-demand; the table's date below).
"""

from __future__ import annotations

from typing import Any

PRICES_AS_OF = "2025-11 (us-east-1, on-demand, public price pages; verify before budgeting)"
PRICES_USD = {
    "dynamodb_write_request": 0.625 / 1_000_000,  # per write request unit
    "dynamodb_read_request": 0.125 / 1_000_000,  # per read request unit
    "s3_put_list_request": 0.005 / 1_000,  # PUT, COPY, POST, LIST
    "s3_get_request": 0.0004 / 1_000,
    "kms_request": 0.03 / 10_000,
    "lambda_request": 0.20 / 1_000_000,
    "lambda_arm_gb_second": 0.0000133334,
    "sfn_standard_transition": 0.025 / 1_000,
    "api_gateway_rest_request": 3.50 / 1_000_000,
}
WRITES = {"BatchWriteItem", "TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem"}
LAMBDA_GB = 1.0  # erasure_steps memory (catalog); API functions use 0.5
LAMBDA_SECONDS_PER_INVOCATION = 0.2  # assumption: a warm step or request; stated, not measured in AWS


def _calls_cost(calls: dict[str, int], items_per_batch_write: int = 25) -> float:
    total = 0.0
    for operation, count in calls.items():
        service, name = operation.split(".", 1)
        if service == "dynamodb":
            if name == "BatchWriteItem":
                total += count * items_per_batch_write * PRICES_USD["dynamodb_write_request"]
            elif name in WRITES:
                total += count * PRICES_USD["dynamodb_write_request"]
            else:
                total += count * PRICES_USD["dynamodb_read_request"]
        elif service == "s3":
            key = "s3_get_request" if name.startswith(("Get", "Head")) else "s3_put_list_request"
            total += count * PRICES_USD[key] if name != "DeleteObjects" else 0.0  # DELETE is free
        elif service == "kms":
            total += count * PRICES_USD["kms_request"]
    return total


def run(
    api: dict[str, Any], erasure_calls_per_request: dict[str, int], transitions: int, invocations: int
) -> dict[str, Any]:
    per_erasure = (
        _calls_cost(erasure_calls_per_request)
        + transitions * PRICES_USD["sfn_standard_transition"]
        + invocations
        * (
            PRICES_USD["lambda_request"]
            + LAMBDA_GB * LAMBDA_SECONDS_PER_INVOCATION * PRICES_USD["lambda_arm_gb_second"]
        )
    )
    rows = [{"operation": "erasure (a small customer, whole workflow)", "usd_each": per_erasure}]
    request_costs = []
    for row in api["rows"]:
        usd = (
            _calls_cost(row["calls_by_operation"])
            + PRICES_USD["api_gateway_rest_request"]
            + PRICES_USD["lambda_request"]
            + 0.5 * LAMBDA_SECONDS_PER_INVOCATION * PRICES_USD["lambda_arm_gb_second"]
        )
        request_costs.append(usd)
        rows.append({"operation": row["route"], "usd_each": usd})
    per_million = sum(request_costs) / len(request_costs) * 1_000_000
    return {
        "prices_as_of": PRICES_AS_OF,
        "prices_usd": PRICES_USD,
        "assumptions": {"lambda_seconds_per_invocation": LAMBDA_SECONDS_PER_INVOCATION},
        "rows": rows,
        "figures": {
            "erasure.cost_per_1000_usd": round(per_erasure * 1_000, 4),
            "cost.per_million_requests_usd": round(per_million, 2),
        },
    }


def export_cost(calls: dict[str, int], seconds: float, gigabytes: float) -> float:
    """Dollars of one export: its calls, one Lambda request, `seconds` at `gigabytes` (timed locally: a bound)."""
    return _calls_cost(calls) + PRICES_USD["lambda_request"] + gigabytes * seconds * PRICES_USD["lambda_arm_gb_second"]
