"""Each sub-processor's request-signing secret, in AWS Secrets Manager: the only room that calls it.

One secret per processor, named `<prefix>/processors/<processor id>/signing`
(`custody.declared.naming.signing_secret_name`), encrypted with the operations key. The system makes
the value (256 random bits, URL-safe base64) and never a person: `issue` creates the secret or,
asked to rotate, puts a new version — Secrets Manager then moves the old value to the `AWSPREVIOUS`
stage, which `signing` keeps offering for `ROTATION_GRACE` so a processor has time to switch.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Final

from botocore.exceptions import ClientError

from custody.declared import naming
from custody.declared.settings import Settings
from custody.platform.aws import clients

ROTATION_GRACE: Final = timedelta(days=7)
_EXISTS: Final = "ResourceExistsException"
_MISSING: Final = "ResourceNotFoundException"


class SigningSecrets:
    """The signing secrets of `settings`' sub-processors. Other Secrets Manager errors pass through as `ClientError`."""

    def __init__(self, settings: Settings) -> None:
        self.prefix = settings.resource_prefix
        self.key_id = settings.processor_secrets_key_id

    def name(self, processor_id: str) -> str:
        """The secret's name for `processor_id`."""
        return naming.signing_secret_name(self.prefix, processor_id)

    def issue(self, processor_id: str, *, rotate: bool) -> str | None:
        """A new secret for `processor_id` when it has none, or when `rotate`; None when it keeps its own.

        The value is returned here once and never again by the API (the relay reads it to sign).
        """
        value = secrets.token_urlsafe(32)
        try:
            clients.secretsmanager().create_secret(
                Name=self.name(processor_id),
                Description=f"CRM Custody: request-signing secret of sub-processor {processor_id}",
                KmsKeyId=self.key_id,
                SecretString=value,
            )
            return value
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != _EXISTS:
                raise
        if not rotate:
            return None
        clients.secretsmanager().put_secret_value(SecretId=self.name(processor_id), SecretString=value)
        return value

    def signing(self, processor_id: str, now: datetime | None = None) -> list[str]:
        """The secrets to sign with: the current one, then the previous one within `ROTATION_GRACE` of a rotation.

        Empty when the processor has no secret.
        """
        current = self._stage(processor_id, "AWSCURRENT")
        if current is None:
            return []
        found = [str(current["SecretString"])]
        rotated_at = current.get("CreatedDate")
        moment = now or datetime.now(UTC)
        if isinstance(rotated_at, datetime) and moment - rotated_at < ROTATION_GRACE:
            previous = self._stage(processor_id, "AWSPREVIOUS")
            if previous is not None:
                found.append(str(previous["SecretString"]))
        return found

    def _stage(self, processor_id: str, stage: str) -> dict[str, object] | None:
        try:
            got: dict[str, object] = clients.secretsmanager().get_secret_value(
                SecretId=self.name(processor_id), VersionStage=stage
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == _MISSING:
                return None
            raise
        return got
