r"""Task tokens bound to the sub-processor they were issued to: a KMS HMAC per (request, processor, token).

When the erasure workflow asks a processor to delete, its `ask_processor` step seals the task
token with the processor-token key (`GenerateMac`, HMAC_SHA_256) and keeps the seal on the
request record; the acknowledgement route accepts a token only if `VerifyMac` confirms the seal
for that request and that processor. A token that leaked to another processor (through the shared
queue, a relay, a log) is worth nothing to it, and the genuine processor's token stays usable.

The key never leaves KMS: only the erasure steps may seal, only the processors function may
verify (infra.access, the key policy). The message is `<domain>\n<request id>\n<processor id>\n<sha256
of the token>` — ids have no newline, and hashing the token keeps the message within KMS's
4,096 bytes whatever the token's length.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Final

from botocore.exceptions import ClientError

from custody.declared.settings import Settings
from custody.platform.aws import clients

MAC_ALGORITHM: Final = "HMAC_SHA_256"
DOMAIN: Final = b"crm-custody/processor-erasure-ack/v1"
_MISMATCH: Final = "KMSInvalidMacException"


def message(request_id: str, processor_id: str, task_token: str) -> bytes:
    """What is sealed: bytes, at most 4,096 (KMS's limit for GenerateMac)."""
    token_digest = hashlib.sha256(task_token.encode()).hexdigest().encode()
    return b"\n".join((DOMAIN, request_id.encode(), processor_id.encode(), token_digest))


class TaskTokenSeals:
    """Seals and checks task tokens with the processor-token HMAC key of `settings` (`processor_token_key_id`)."""

    def __init__(self, settings: Settings) -> None:
        self.key_id = settings.processor_token_key_id

    def seal(self, request_id: str, processor_id: str, task_token: str) -> str:
        """The seal (base64 of the HMAC) that `matches` later checks. One `kms:GenerateMac`."""
        mac = clients.kms().generate_mac(
            KeyId=self.key_id, MacAlgorithm=MAC_ALGORITHM, Message=message(request_id, processor_id, task_token)
        )["Mac"]
        return base64.b64encode(mac).decode("ascii")

    def matches(self, request_id: str, processor_id: str, task_token: str, seal: str) -> bool:
        """Whether `seal` was made for exactly this request, processor and token. One `kms:VerifyMac`.

        False for a different token, request or processor (KMS's `KMSInvalidMacException`) or a
        seal that is not base64; any other AWS error propagates.
        """
        try:
            mac = base64.b64decode(seal, validate=True)
        except ValueError:
            return False
        try:
            clients.kms().verify_mac(
                KeyId=self.key_id,
                MacAlgorithm=MAC_ALGORITHM,
                Message=message(request_id, processor_id, task_token),
                Mac=mac,
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == _MISMATCH:
                return False
            raise
        return True
