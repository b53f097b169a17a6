"""The address an erasure's completion notice goes to: sealed at Freeze, opened at Certify, then shredded.

The completion notice is sent after the customer's identity — the only place their address lives — is
deleted (DeleteIdentity), so the address has to survive exactly that long, and not a moment longer, in
a form no copy of the system's data can give back:

1. **Freeze** reads the address from Cognito (by `sub`) and seals it (AES-256-GCM, `custody.crypto.cipher`,
   bound to the request) with a fresh 256-bit key made for this request alone by KMS `GenerateDataKey`
   under the data key, with the encryption context `{"notice_request_id": <request id>}` (IAM lets the
   erasure steps use the data key only under that context, so they can unwrap no customer's key). The
   sealed address goes on the request (`requests.notice_address`); the wrapped key goes to the key store
   (`subject_keys`, partition `notice#<request id>`), which AWS Backup never copies and whose PITR window
   is the shortest (`Settings.key_store_recovery_days`).
2. **Certify** unwraps the key, opens the address into memory, then deletes the wrapped key and the
   sealed address *before* it files the certificate, and computes the certificate's
   `unrecoverable_after` from that moment: every copy of the request record (PITR, backups) then holds
   a sealed address whose key is gone from everywhere by that date, as the customer's own data.
3. It sends the notice from memory. Nothing of the address was ever in the workflow's input, output or
   history (the steps return counts and statuses), in a log, metric, trace or ledger event.

If Certify is cut off between the shred and the send, the address is gone and the notice is recorded
`failed` on a retry (`address_shredded`): the privacy promise wins over the last message.
"""

from __future__ import annotations

from typing import Final

from custody.crypto import cipher
from custody.declared.notices import NOTICE_KEY_CONTEXT
from custody.declared.settings import Settings
from custody.platform.aws import clients
from custody.stores.requests import NOTICE_ADDRESS, RequestsTable
from custody.stores.subject_keys import SubjectKeysTable

# The KMS encryption context key of a notice key (IAM conditions the erasure steps' use of the data key on it).
CONTEXT_KEY: Final = NOTICE_KEY_CONTEXT
_STORE: Final = "requests"


class NoticeAddresses:
    """Seals, opens and shreds erasure requests' notice addresses under `settings` (KMS, DynamoDB errors pass)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.requests = RequestsTable(settings)
        self.keys = SubjectKeysTable(settings)

    def seal(self, request_id: str, address: str) -> bool:
        """Keep `address` sealed on the request under a new notice key; False when one is kept already.

        Idempotent: a retried or re-run Freeze keeps the first key and address (a key stored by a call
        that then failed is reused, never replaced).
        """
        item = self.requests.load(request_id) or {}
        if NOTICE_ADDRESS in item:
            return False
        wrapped = self.keys.notice_key(request_id)
        material: bytes | None
        if wrapped is None:
            made = clients.kms().generate_data_key(
                KeyId=self.settings.data_key_id, KeySpec="AES_256", EncryptionContext={CONTEXT_KEY: request_id}
            )
            if self.keys.put_notice_key(request_id, made["CiphertextBlob"], str(made["KeyId"])):
                material = bytes(made["Plaintext"])
            else:
                material = self._unwrap(request_id)
        else:
            material = self._unwrap(request_id, wrapped)
        if material is None:
            return False
        sealed = cipher.encrypt_field(material, request_id, _STORE, NOTICE_ADDRESS, address)
        return self.requests.keep_address(request_id, sealed)

    def open(self, request_id: str) -> str | None:
        """The request's address, opened in memory; None when none was kept or its key is gone (shredded)."""
        item = self.requests.load(request_id) or {}
        sealed = item.get(NOTICE_ADDRESS)
        if not sealed:
            return None
        material = self._unwrap(request_id)
        if material is None:
            return None
        return cipher.decrypt_text(material, request_id, _STORE, NOTICE_ADDRESS, str(sealed))

    def shred(self, request_id: str) -> None:
        """Delete the request's notice key, then its sealed address (idempotent): the address is gone for good."""
        self.keys.delete_notice_key(request_id)
        self.requests.forget_address(request_id)

    def _unwrap(self, request_id: str, wrapped: bytes | None = None) -> bytes | None:
        blob = wrapped if wrapped is not None else self.keys.notice_key(request_id)
        if blob is None:
            return None
        plain = clients.kms().decrypt(
            CiphertextBlob=blob, KeyId=self.settings.data_key_id, EncryptionContext={CONTEXT_KEY: request_id}
        )
        return bytes(plain["Plaintext"])
