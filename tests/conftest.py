"""Settings every test tier shares: no real AWS account is ever reachable from a test."""

from __future__ import annotations

import os

# Set before any boto3 client or Powertools utility is created.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "CrmCustody",
        "POWERTOOLS_DEV": "0",
    }
)
os.environ.pop("AWS_PROFILE", None)
