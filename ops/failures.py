"""What an `ops` command says when it cannot do its job: one line, never a traceback.

`OperatorError` is a failure the operator can act on; `ops.cli` prints it as `custody: <message>`
on stderr and exits 2. `describe(error, where, hint)` turns botocore's failures (no credentials,
expired or rejected credentials, access denied, a resource that is not there, an endpoint that
does not answer) into such a message, naming where the command acted (`where`: "AWS account 1234
(eu-west-1)", "the local stack at http://127.0.0.1:5000") and what to check when something is
missing (`hint`).
"""

from __future__ import annotations

from typing import Final

from botocore import exceptions as boto
from botocore.exceptions import BotoCoreError, ClientError


class OperatorError(Exception):
    """A failure the operator can act on: printed as `custody: <message>`, exit status 2."""


ACCESS_DENIED: Final = frozenset(
    {"AccessDenied", "AccessDeniedException", "AuthorizationError", "UnauthorizedOperation"}
)
EXPIRED: Final = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
REJECTED: Final = frozenset(
    {
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
    }
)
NOT_FOUND: Final = frozenset(
    {
        "ExecutionDoesNotExist",
        "NoSuchBucket",
        "NoSuchKey",
        "ResourceNotFoundException",
        "StateMachineDoesNotExist",
    }
)
NO_CREDENTIALS: Final = (
    "no AWS credentials: sign in (`aws sso login`, AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), "
    "or pass --local to act on the running local stack"
)
NO_REGION: Final = "no AWS region: set AWS_REGION (or CUSTODY_REGION), or pass --local to act on the local stack"


def describe(error: BotoCoreError | ClientError, where: str, hint: str = "") -> str:
    """One line for `error`: what is missing or refused, where, and what to do about it."""
    if isinstance(error, ClientError):
        return _one_line(_refused(error, where, hint))
    if isinstance(error, boto.NoCredentialsError):
        return NO_CREDENTIALS
    if isinstance(error, boto.NoRegionError):
        return NO_REGION
    if isinstance(error, boto.PartialCredentialsError | boto.ProfileNotFound):
        return _one_line(f"your AWS configuration is incomplete: {error}")
    if isinstance(error, boto.SSOError | boto.TokenRetrievalError | boto.CredentialRetrievalError):
        return _one_line(f"your AWS sign-in cannot be used: {error}; sign in again (e.g. `aws sso login`)")
    if isinstance(error, boto.ConnectionError | boto.HTTPClientError):
        return _one_line(f"cannot reach {where}: {error}")
    return _one_line(f"{where}: {error}")


def _refused(error: ClientError, where: str, hint: str) -> str:
    details = error.response.get("Error", {})
    code, message = str(details.get("Code", "")), str(details.get("Message", "")).strip()
    operation = error.operation_name
    if code in ACCESS_DENIED:
        return f"access denied to {operation} in {where}: {message or code}"
    if code in EXPIRED:
        return f"your AWS credentials have expired ({code}): sign in again"
    if code in REJECTED:
        return f"AWS does not accept your credentials ({code}): sign in again, or check AWS_PROFILE"
    if code in NOT_FOUND:
        bucket = details.get("BucketName")
        missing = f"no bucket {bucket}" if bucket else f"{operation}: {message or code}"
        return f"{missing} in {where}" + (f" ({hint})" if hint else "")
    return f"{operation} failed in {where}: {code}: {message}"


def _one_line(text: str) -> str:
    return " ".join(text.split())
