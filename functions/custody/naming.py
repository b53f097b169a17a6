"""Physical names of the stack's resources, derived in one place.

The CDK stack and the functions' settings both call these, so the names a function is
told and the names the stack creates cannot drift apart.
"""

from __future__ import annotations

DEFAULT_PREFIX = "crm-custody"


def table_name(prefix: str, logical: str) -> str:
    return f"{prefix}-{logical.replace('_', '-')}"


def bucket_name(prefix: str, logical: str, qualifier: str) -> str:
    """Bucket names are global: the qualifier (account and region) keeps them unique."""
    return f"{prefix}-{logical.replace('_', '-')}-{qualifier}"


def state_machine_name(prefix: str, logical: str) -> str:
    return f"{prefix}-{logical.replace('_', '-')}"


def function_name(prefix: str, logical: str) -> str:
    return f"{prefix}-{logical.replace('_', '-')}"
