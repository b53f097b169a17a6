"""Settings every test tier shares: no real AWS account is ever reachable from a test."""

from __future__ import annotations

import os

from devstack.stack import prepare_process_environment

# Fake credentials, set before any boto3 client or Powertools utility is created.
prepare_process_environment()
os.environ.update(
    {
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "CrmCustody",
        "POWERTOOLS_DEV": "0",
    }
)
