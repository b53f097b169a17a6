"""The `erasure_ledger` table: what every erasure removed, kept after it (ids, scopes, times only).

One item per (subject, request): `{subject_id, request_id, reason, scope: [category],
key_shredded, erased_at}`. It survives erasure on purpose — it holds no personal data — so the
restore guard can replay it over a table restored from a backup (`custody.erasure.restore_guard`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Final

from custody.declared.settings import Settings
from custody.platform.aws import clients
from custody.stores import dynamo

TABLE: Final = "erasure_ledger"


class ErasureLedgerTable:
    """The `erasure_ledger` table of `settings`: one item per (subject, request), written by ShredKey.

    DynamoDB errors pass through as botocore's `ClientError`.
    """

    def __init__(self, settings: Settings) -> None:
        self.table = settings.table(TABLE)

    def record(
        self, subject_id: str, request_id: str, reason: str, scope: Iterable[str], key_shredded: bool, erased_at: str
    ) -> None:
        """Record (or record again, idempotently) what a request erased."""
        clients.dynamodb().put_item(
            TableName=self.table,
            Item=dynamo.to_item(
                {
                    "subject_id": subject_id,
                    "request_id": request_id,
                    "reason": reason,
                    "scope": sorted(scope),
                    "key_shredded": key_shredded,
                    "erased_at": erased_at,
                }
            ),
        )

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every entry (a Scan: the restore guard's, run by an operator after a restore, never by a request)."""
        kwargs: dict[str, Any] = {"TableName": self.table}
        while True:
            page = clients.dynamodb().scan(**kwargs)
            for item in page.get("Items", []):
                yield dynamo.from_item(item)
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
