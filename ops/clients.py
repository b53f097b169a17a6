"""boto3 clients for the `ops` commands: one per service, made on first use from one session.

`ClientFactory` is the shape every reader here takes: `clients("s3")` returns an S3 client. Where
the calls go (AWS, or the local stack's endpoint) and as whom is the session's business.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3

ClientFactory = Callable[[str], Any]


def session_clients(session: boto3.session.Session, endpoint_url: str | None = None) -> ClientFactory:
    """A factory of `session`'s clients (to `endpoint_url` when given), each made once."""
    made: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in made:
            made[service] = session.client(service, endpoint_url=endpoint_url)  # type: ignore[call-overload]
        return made[service]

    return client
